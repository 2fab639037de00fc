import { SessionMemory } from '../../lib/threads/session-memory.js';
import { laneOf, sessionsOn } from '../support/threads.js';

describe('SessionMemory', () => {
  it('says a session arrives the first time only', () => {
    const m = new SessionMemory(0, 160);
    m.ringChanged([0, 1]);
    expect(m.arrive('a')).toBe(true);
    expect(m.arrive('a')).toBe(false);
  });

  it('forgets the sessions a ring change moves away, so they arrive again when they come back', () => {
    const m = new SessionMemory(0, 160);
    m.ringChanged([0, 1]);
    const mine = sessionsOn(0, [0, 1], 200);
    for (const id of mine) m.arrive(id);
    m.ringChanged([0, 1, 2]); // lane 2 takes about a third of them
    m.ringChanged([0, 1]); // and gives them back: their state here may be stale
    for (const id of mine) expect(m.arrive(id)).toBe(laneOf(id, [0, 1, 2]) === 2);
  });

  it('keeps at most `cap` sessions, forgetting the oldest first', () => {
    const m = new SessionMemory(0, 160, 2);
    m.arrive('a');
    m.arrive('b');
    m.arrive('c');
    expect(m.arrive('b')).toBe(false);
    expect(m.arrive('a')).toBe(true);
  });
});
