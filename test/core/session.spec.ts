import { Lane } from '../../lib/core/lanes/lane.js';
import { Session } from '../../lib/core/lanes/session.js';
import { Task } from '../../lib/core/task.js';
import { DEFAULT_TASK_POLICY } from '../../lib/core/task-policy.js';

const entry = {
  type: 't',
  fn: () => undefined,
  origin: 'test',
  captures: false,
  selfWait: undefined,
  policy: DEFAULT_TASK_POLICY,
  counts: { accepted: 0, completed: 0, failed: 0, timedOut: 0, cancelled: 0 },
};

describe('Session', () => {
  it('keeps its tasks in FIFO order and reports idle only when empty and not running', () => {
    const s = new Session('a', new Lane(0, 1));
    expect(s.idle).toBe(true);
    const tasks = [1, 2, 3].map((id) => new Task(id, entry, id, s, undefined));
    tasks.forEach((t) => s.push(t));
    expect(s.size).toBe(3);
    expect(s.shift()!.taskId).toBe(1);
    s.running = true;
    expect(s.shift()!.taskId).toBe(2);
    expect(s.shift()!.taskId).toBe(3);
    expect(s.shift()).toBeUndefined();
    expect(s.idle).toBe(false);
    s.running = false;
    expect(s.idle).toBe(true);
    expect(tasks.every((t) => t.next === undefined)).toBe(true);
  });
});

describe('Task as context', () => {
  it('creates its AbortSignal lazily and aborts it even if read after abort', () => {
    const t = new Task(1, entry, null, undefined, undefined);
    t.abort('stop');
    expect(t.signal.aborted).toBe(true);
    expect(t.signal.reason).toBe('stop');
    const u = new Task(2, entry, null, undefined, undefined);
    const signal = u.signal;
    u.abort('later');
    expect(signal.aborted).toBe(true);
    expect(u.sessionId).toBeUndefined();
  });
});
