/** Focuses an element when it mounts (dialogs, inline forms). */
export function autofocus(node: HTMLElement): void {
  queueMicrotask(() => node.focus());
}
