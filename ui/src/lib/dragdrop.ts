// Files dropped on the app's window: the webview reports their paths (Tauri's drag-drop
// events). The web build swaps in ./web/dragdrop.ts (no paths in a browser).
import { getCurrentWebview } from '@tauri-apps/api/webview';

export type DropEvent = { type: 'enter' | 'over' | 'leave' } | { type: 'drop'; paths: string[] };

/** Calls `handler` with drag-and-drop of files on the window; resolves to the undo (null:
 * not inside the app's webview, e.g. tests). */
export function onFileDrop(handler: (event: DropEvent) => void): Promise<() => void> | null {
  if (!('__TAURI_INTERNALS__' in window)) return null;
  try {
    return getCurrentWebview().onDragDropEvent((event) => {
      const p = event.payload;
      if (p.type === 'drop') handler({ type: 'drop', paths: p.paths });
      else handler({ type: p.type });
    });
  } catch {
    return null;
  }
}
