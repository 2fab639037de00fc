import { Deque } from '../../lib/core/deque.js';

describe('Deque', () => {
  it('is FIFO across growth and wrap-around', () => {
    const q = new Deque<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < round * 3; i++) q.push(next++);
      for (let i = 0; i < round * 2; i++) expect(q.shift()).toBe(expected++);
    }
    while (q.length) expect(q.shift()).toBe(expected++);
    expect(expected).toBe(next);
    expect(q.shift()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
  });

  it('puts items back at the front, across wrap-around and growth, like an array', () => {
    const q = new Deque<number>();
    const model: number[] = [];
    let n = 0;
    // A fixed mix of push, unshift and shift that wraps the head below 0 and grows twice.
    for (let step = 0; step < 400; step++) {
      const op = (step * 7) % 5;
      if (op < 2) {
        q.push(n);
        model.push(n++);
      } else if (op < 4) {
        q.unshift(n);
        model.unshift(n++);
      } else {
        expect(q.shift()).toBe(model.shift());
      }
      expect(q.length).toBe(model.length);
      expect(q.peek()).toBe(model[0]);
    }
    const rest: number[] = [];
    q.drain((x) => rest.push(x));
    expect(rest).toEqual(model);
  });

  it('drains in order and starts small again after a large burst', () => {
    const q = new Deque<number>();
    for (let i = 0; i < 5000; i++) q.push(i);
    const seen: number[] = [];
    q.drain((x) => seen.push(x));
    expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(q.length).toBe(0);
    q.push(1);
    expect((q as unknown as { buf: unknown[] }).buf.length).toBe(16);
  });

  it('take removes the first match within the live window and the dead items before it, like an array model, across wrap-around', () => {
    const q = new Deque<number>();
    let model: number[] = [];
    const dead = (x: number) => x % 3 === 0;
    const even = (x: number): x is number => x % 2 === 0;
    for (let round = 0; round < 60; round++) {
      // Rotate so the head wraps, then grow.
      for (let i = 0; i < 7; i++) {
        q.push(round * 100 + i);
        model.push(round * 100 + i);
        if (i % 2 === 0) {
          q.shift();
          model.shift();
        }
      }
      const limit = (round % 4) + 1;
      // The model: look at the first `limit` live items; drop the dead ones up to the match.
      let live = 0;
      let at = -1;
      let end = 0;
      for (; end < model.length && live < limit; end++) {
        if (dead(model[end])) continue;
        if (even(model[end])) {
          at = end++;
          break;
        }
        live++;
      }
      const expected = at === -1 ? undefined : model[at];
      model = [...model.slice(0, end).filter((x, i) => i !== at && !dead(x)), ...model.slice(end)];
      expect(q.take(even, dead, limit)).toBe(expected);
      expect(q.length).toBe(model.length);
      const copy: number[] = [];
      q.filter((x) => (copy.push(x), true));
      expect(copy).toEqual(model);
    }
    q.filter((x) => x % 2 === 1);
    model = model.filter((x) => x % 2 === 1);
    const rest: number[] = [];
    while (q.length) rest.push(q.shift()!);
    expect(rest).toEqual(model);
  });
});
