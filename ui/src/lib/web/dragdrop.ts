// The web build's ../dragdrop.ts: a browser gives no file paths, so dropped files are not
// taken this way (the file picker uploads them).
import type { DropEvent } from '../dragdrop';

export function onFileDrop(_handler: (event: DropEvent) => void): Promise<() => void> | null {
  return null;
}
