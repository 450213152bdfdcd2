// A request for one message row, made from outside it (Up in an empty composer: edit your
// last message). The row may not be rendered yet (the timeline is virtualised): it takes the
// request when it mounts.

export type RowAction = 'edit';

class RowRequests {
  request = $state.raw<{ id: number; action: RowAction } | null>(null);
}

export const rowRequests = new RowRequests();

export function requestRow(id: number, action: RowAction): void {
  rowRequests.request = { id, action };
}

/** The request for message `id`, taken (cleared) if there is one. */
export function takeRowRequest(id: number): RowAction | null {
  const r = rowRequests.request;
  if (r == null || r.id !== id) return null;
  rowRequests.request = null;
  return r.action;
}
