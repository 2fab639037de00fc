import { SessionMemory } from '../../lib/threads/session-memory.js';

describe('SessionMemory', () => {
  it('says a session arrives the first time a thread runs it only', () => {
    const m = new SessionMemory();
    expect(m.arrive('a', 1)).toBe(true);
    expect(m.arrive('a', 1)).toBe(false);
  });

  it('says it arrived when it comes back after running in another thread (that state may be stale)', () => {
    const m = new SessionMemory();
    m.arrive('a', 1);
    expect(m.arrive('a', 2)).toBe(true);
    expect(m.arrive('a', 1)).toBe(true);
    expect(m.arrive('a', 1)).toBe(false);
  });

  it('a forgotten session (its task never reached the thread) arrives again', () => {
    const m = new SessionMemory();
    m.arrive('a', 1);
    m.forget('a');
    expect(m.arrive('a', 1)).toBe(true);
  });

  it('keeps at most `cap` sessions, forgetting the oldest first', () => {
    const m = new SessionMemory(2);
    m.arrive('a', 1);
    m.arrive('b', 1);
    m.arrive('c', 1);
    expect(m.arrive('b', 1)).toBe(false);
    expect(m.arrive('a', 1)).toBe(true);
  });
});
