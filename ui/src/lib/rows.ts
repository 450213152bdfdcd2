// The rows of a message list: day separators, the "New" line, messages grouped by author,
// then pending ones.
import type { Message, OutboxEntry } from './bindings';
import { dayKey, dayLabel } from './format';

export type Row =
  | { kind: 'top'; key: string; state: 'start' | 'loading' | 'more' }
  | { kind: 'root'; key: string; message: Message }
  | { kind: 'day'; key: string; label: string }
  | { kind: 'new'; key: string }
  | { kind: 'message'; key: string; message: Message; compact: boolean }
  | { kind: 'pending'; key: string; entry: OutboxEntry; compact: boolean }
  | { kind: 'bottom'; key: string; loading: boolean };

/** Messages of one author within this long of each other are grouped (one header). */
const GROUP_MS = 5 * 60 * 1000;

export type RowOptions = {
  /** Everything up to this seq was read when the channel was opened (null: no marker). */
  markerSeq: number | null;
  meId: number | null;
  hasOlder: boolean;
  hasNewer: boolean;
  loadingOlder: boolean;
  loadingNewer: boolean;
  /** The thread's root message, shown first. */
  root?: Message | null;
  now?: number;
};

export function messageKey(seq: number): string {
  return `m:${seq}`;
}

export function buildRows(messages: readonly Message[], pending: readonly OutboxEntry[], o: RowOptions): Row[] {
  const rows: Row[] = [];
  const now = o.now ?? Date.now();
  rows.push({
    kind: 'top',
    key: 'top',
    state: o.loadingOlder ? 'loading' : o.hasOlder ? 'more' : 'start',
  });
  if (o.root != null) rows.push({ kind: 'root', key: `root:${o.root.id}`, message: o.root });
  let lastDay = '';
  let prev: Message | null = null;
  let markerPlaced = false;
  for (const m of messages) {
    const day = dayKey(m.ts);
    let breakGroup = false;
    if (day !== lastDay) {
      rows.push({ kind: 'day', key: `d:${day}`, label: dayLabel(m.ts, now) });
      lastDay = day;
      breakGroup = true;
    }
    if (
      !markerPlaced &&
      o.markerSeq != null &&
      m.seq > o.markerSeq &&
      m.author.id !== o.meId
    ) {
      rows.push({ kind: 'new', key: 'new' });
      markerPlaced = true;
      breakGroup = true;
    }
    const compact =
      !breakGroup &&
      prev != null &&
      prev.author.id === m.author.id &&
      m.ts - prev.ts < GROUP_MS;
    rows.push({ kind: 'message', key: messageKey(m.seq), message: m, compact });
    prev = m;
  }
  if (!o.hasNewer) {
    let lastPendingDay = lastDay;
    let prevMine = prev != null && prev.author.id === o.meId ? prev.ts : null;
    for (const e of pending) {
      const day = dayKey(e.created_at);
      let breakGroup = false;
      if (day !== lastPendingDay) {
        rows.push({ kind: 'day', key: `d:${day}`, label: dayLabel(e.created_at, now) });
        lastPendingDay = day;
        breakGroup = true;
      }
      const compact = !breakGroup && prevMine != null && e.created_at - prevMine < GROUP_MS;
      rows.push({ kind: 'pending', key: `p:${e.local_id}`, entry: e, compact });
      prevMine = e.created_at;
    }
  }
  rows.push({ kind: 'bottom', key: 'bottom', loading: o.loadingNewer });
  return rows;
}

/** A first guess of a row's height before it is measured. */
export function estimateRow(row: Row): number {
  switch (row.kind) {
    case 'top':
      return row.state === 'start' ? 96 : 40;
    case 'day':
      return 33;
    case 'new':
      return 24;
    case 'bottom':
      return row.loading ? 40 : 16;
    case 'root':
    case 'message': {
      const m = row.message;
      const lines = Math.max(1, Math.ceil(m.text.length / 90));
      // A grouped row is its text (20 px lines) and 4 px of padding; a row with a header
      // has a 20 px header line and 10 px of padding more (MessageRow's styles).
      let h = (row.kind === 'message' && row.compact ? 4 : 30) + lines * 20;
      if ((m.attachments ?? []).length > 0) h += 220;
      if ((m.reactions ?? []).length > 0) h += 30;
      if (m.thread != null) h += 22;
      return h;
    }
    case 'pending':
      return row.compact ? 44 : 66;
  }
}
