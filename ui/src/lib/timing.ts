// User Timing marks for the moments a person waits for (seen in the Web Inspector's timeline,
// and read by the app measurement: `performance.timeOrigin + mark.startTime`).

/** The first channel view with its messages on screen and the composer ready. */
export const CHANNEL_READY = 'parley:channel-ready';

/** Marks `name` the first time only. */
export function markOnce(name: string): void {
  if (typeof performance === 'undefined' || performance.getEntriesByName(name).length > 0) return;
  performance.mark(name);
}
