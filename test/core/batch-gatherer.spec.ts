import { jest } from '@jest/globals';
import { Batch } from '../../lib/core/batch.js';
import { BatchGatherer } from '../../lib/core/batch-gatherer.js';
import { BatchResultError, TaskTimeoutError } from '../../lib/core/errors.js';
import type { HandlerEntry } from '../../lib/core/handler-registry.js';
import { Lane } from '../../lib/core/lanes/lane.js';
import { DEFAULT_TASK_POLICY } from '../../lib/core/task-policy.js';
import { Task, TaskState } from '../../lib/core/task.js';

afterEach(() => jest.useRealTimers());

function entry(type: string, maxSize: number, maxWaitMs: number): HandlerEntry {
  return {
    type,
    fn: () => undefined,
    origin: 'test',
    captures: false,
    selfWait: undefined,
    policy: DEFAULT_TASK_POLICY,
    counts: { accepted: 0, completed: 0, failed: 0, timedOut: 0, cancelled: 0, batches: 0 },
    batch: { maxSize, maxWaitMs },
  };
}

function setup() {
  const ready: Batch[] = [];
  const given: Task[] = [];
  const gatherer = new BatchGatherer({
    ready: (_lane, batch) => ready.push(batch),
    giveBack: (_lane, task) => given.push(task),
  });
  return { gatherer, ready, given, lane: new Lane(0, 1) };
}

let id = 0;
const task = (handler: HandlerEntry) => new Task(++id, handler, id, undefined, undefined);

describe('BatchGatherer', () => {
  it('returns a batch once full, and closes the rest at maxWaitMs', () => {
    jest.useFakeTimers();
    const { gatherer, ready, lane } = setup();
    const write = entry('write', 2, 50);
    const [a, b, c] = [task(write), task(write), task(write)];
    expect(gatherer.add(lane, a)).toBeUndefined();
    expect(a.state).toBe(TaskState.Batched);
    const full = gatherer.add(lane, b)!;
    expect(full.tasks).toEqual([a, b]);
    expect(full.closed).toBe(true);
    expect(gatherer.add(lane, c)).toBeUndefined();
    expect(gatherer.count([lane])).toBe(3); // the full one leaves the lane when it starts
    jest.advanceTimersByTime(50);
    expect(ready.map((batch) => batch.tasks)).toEqual([[c]]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps one open batch per type', () => {
    const { gatherer, lane } = setup();
    const [x, y] = [entry('x', 5, 0), entry('y', 5, 0)];
    gatherer.add(lane, task(x));
    gatherer.add(lane, task(y));
    gatherer.add(lane, task(x));
    expect([...lane.batches].map((b) => [b.type, b.size])).toEqual([
      ['x', 2],
      ['y', 1],
    ]);
    expect(gatherer.closeZeroWait(lane)!.type).toBe('x');
    expect(gatherer.closeZeroWait(lane)!.type).toBe('y');
    expect(gatherer.closeZeroWait(lane)).toBeUndefined();
  });

  it('drops a batch emptied by withdrawals, with its timer', () => {
    jest.useFakeTimers();
    const { gatherer, ready, lane } = setup();
    const t = task(entry('write', 5, 10));
    gatherer.add(lane, t);
    gatherer.leave(lane, t);
    expect(lane.batches.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
    expect(ready).toEqual([]);
  });

  it('gives a removed lane its tasks back in order, queued again, and cancels at a deadline', () => {
    jest.useFakeTimers();
    const { gatherer, given, lane } = setup();
    const write = entry('write', 5, 10);
    const tasks = [task(write), task(write)];
    for (const t of tasks) gatherer.add(lane, t);
    gatherer.giveBack(lane);
    expect(given).toEqual(tasks);
    expect(tasks.every((t) => t.state === TaskState.Queued)).toBe(true);
    expect(lane.batches.size + jest.getTimerCount()).toBe(0);

    for (const t of tasks) gatherer.add(lane, t);
    const cancelled: Task[] = [];
    gatherer.cancel(lane, (t) => cancelled.push(t));
    expect(cancelled).toEqual(tasks);
    expect(lane.batches.size + jest.getTimerCount()).toBe(0);
  });
});

describe('Batch outcomes', () => {
  const write = entry('write', 5, 0);
  const batch = new Batch(write, 0);
  batch.tasks.push(task(write), task(write));

  it('maps one result per item, nothing, or a wrong result', () => {
    expect(batch.outcome(1, true, ['a', 'b'])).toEqual([true, 'b']);
    expect(batch.outcome(0, true, undefined)).toEqual([true, undefined]);
    const [ok, error] = batch.outcome(0, true, ['a']);
    expect(ok).toBe(false);
    expect(error).toBeInstanceOf(BatchResultError);
    expect(batch.outcome(0, false, 'boom')).toEqual([false, 'boom']);
  });

  it("turns the batch's timeout into one TaskTimeoutError per task", () => {
    const timeout = new TaskTimeoutError(batch.tasks[0].taskId, 100);
    batch.expire(timeout, Promise.resolve());
    const [, second] = batch.outcome(1, false, timeout);
    expect(second).toMatchObject({ taskId: batch.tasks[1].taskId, timeoutMs: 100 });
    expect(batch.signal.aborted).toBe(true);
    expect(batch.tasks.every((t) => t.signal.aborted && t.extra?.zombie !== undefined)).toBe(true);
  });
});
