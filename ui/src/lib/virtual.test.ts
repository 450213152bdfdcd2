import { describe, expect, it } from 'vitest';
import { anchorFor, anchoredScrollTop, buildOffsets, rowAt, visibleRange } from './virtual';

const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

describe('virtual list math', () => {
  it('builds offsets from measured heights and estimates', () => {
    const heights = new Map([
      ['k1', 100],
      ['k3', 10],
    ]);
    const o = buildOffsets(keys(4), heights, () => 50);
    expect([...o]).toEqual([0, 50, 150, 200, 210]);
  });

  it('finds the row at a position', () => {
    const o = buildOffsets(keys(4), new Map(), () => 50);
    expect(rowAt(o, 0)).toBe(0);
    expect(rowAt(o, 49.9)).toBe(0);
    expect(rowAt(o, 50)).toBe(1);
    expect(rowAt(o, 199)).toBe(3);
    expect(rowAt(o, 10_000)).toBe(3);
    expect(rowAt(o, -5)).toBe(0);
    expect(rowAt(buildOffsets([], new Map(), () => 50), 10)).toBe(0);
  });

  it('renders only the visible rows plus overscan, even with 100,000 rows', () => {
    const n = 100_000;
    const o = buildOffsets(keys(n), new Map(), () => 40);
    // 600 px viewport at 40 px per row: 15 rows; 200 px overscan: 5 more each side.
    const r = visibleRange(o, 40_000, 600, 200);
    expect(r).toEqual({ start: 995, end: 1021 });
    expect(r.end - r.start).toBeLessThan(30);
    expect(visibleRange(o, 0, 600, 0)).toEqual({ start: 0, end: 16 });
    expect(visibleRange(o, o[n] - 600, 600, 0).end).toBe(n);
    expect(visibleRange(buildOffsets([], new Map(), () => 1), 0, 600, 100)).toEqual({ start: 0, end: 0 });
  });

  it('handles variable heights', () => {
    const heights = new Map(keys(10).map((k, i) => [k, (i + 1) * 10]));
    const o = buildOffsets(keys(10), heights, () => 0);
    // rows: 10,20,...,100; offsets 0,10,30,60,100,150,210,280,360,450,550
    expect(visibleRange(o, 100, 100, 0)).toEqual({ start: 4, end: 6 });
    expect(visibleRange(o, 155, 10, 0)).toEqual({ start: 5, end: 6 });
  });

  it('keeps the anchored row in place when rows are added above it', () => {
    const before = keys(10);
    const o1 = buildOffsets(before, new Map(), () => 50);
    const anchor = anchorFor(before, o1, 260); // row 5, 10 px into it
    expect(anchor).toEqual({ key: 'k5', delta: 10 });
    const after = ['n0', 'n1', 'n2', ...before];
    const o2 = buildOffsets(after, new Map([['n1', 200]]), () => 50);
    // 50 + 200 + 50 = 300 px were added above.
    expect(anchoredScrollTop(after, o2, anchor)).toBe(560);
    expect(anchoredScrollTop(after, o2, { key: 'gone', delta: 0 })).toBeNull();
    // Probing the middle of a 200 px view: row 7 (350..400), the view's top 90 px above it.
    const mid = anchorFor(before, o1, 260, 100);
    expect(mid).toEqual({ key: 'k7', delta: -90 });
    expect(anchoredScrollTop(after, o2, mid)).toBe(560);
    expect(anchoredScrollTop(after, o2, null)).toBeNull();
  });
});
