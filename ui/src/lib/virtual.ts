// The arithmetic of the virtualized message list: row offsets from measured (or estimated)
// heights, and which rows a viewport shows. Pure functions, tested on their own.

/** offsets[i] = top of row i; offsets[n] = total height. */
export function buildOffsets(
  keys: readonly string[],
  heights: ReadonlyMap<string, number>,
  estimate: (index: number) => number,
): Float64Array {
  const offsets = new Float64Array(keys.length + 1);
  for (let i = 0; i < keys.length; i++) {
    const h = heights.get(keys[i]);
    offsets[i + 1] = offsets[i] + (h ?? estimate(i));
  }
  return offsets;
}

/** The row containing the vertical position `y` (clamped to the rows that exist). */
export function rowAt(offsets: Float64Array, y: number): number {
  const n = offsets.length - 1;
  if (n <= 0) return 0;
  if (y <= 0) return 0;
  if (y >= offsets[n]) return n - 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid] <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export type Range = { start: number; end: number };

/** Rows to render: those intersecting [scrollTop, scrollTop + viewport), plus `overscan`
 * pixels above and below. `end` is exclusive. */
export function visibleRange(
  offsets: Float64Array,
  scrollTop: number,
  viewport: number,
  overscan: number,
): Range {
  const n = offsets.length - 1;
  if (n <= 0) return { start: 0, end: 0 };
  const top = Math.max(0, scrollTop - overscan);
  const bottom = scrollTop + Math.max(viewport, 0) + overscan;
  const start = rowAt(offsets, top);
  let end = rowAt(offsets, bottom) + 1;
  if (end > n) end = n;
  return { start, end };
}

/** The scrollTop that keeps row `key` at the same distance from the viewport's top after the
 * rows changed (rows inserted or removed above it, or heights measured). */
export function anchoredScrollTop(
  keys: readonly string[],
  offsets: Float64Array,
  anchor: { key: string; delta: number } | null,
): number | null {
  if (anchor == null) return null;
  const i = keys.indexOf(anchor.key);
  if (i < 0) return null;
  return offsets[i] + anchor.delta;
}

/** The anchor to remember for the current scroll position: the row at `probe` pixels below the
 * top of the viewport (the middle of it: rows at the very edges, like a "loading" row at the
 * top, stay put when rows are inserted after them), and how far the viewport's top is from
 * that row's top. */
export function anchorFor(
  keys: readonly string[],
  offsets: Float64Array,
  scrollTop: number,
  probe = 0,
): { key: string; delta: number } | null {
  if (keys.length === 0) return null;
  const i = rowAt(offsets, scrollTop + probe);
  return { key: keys[i], delta: scrollTop - offsets[i] };
}
