// The web app's outbox: sends, edits, deletions, reactions and comments the UI has handed over
// and the server has not acknowledged yet, as the desktop's OutboxEntry rows (kept for the
// tab's life; the desktop keeps them on disk). Each entry is delivered once by `deliver`
// (which retries what may succeed later); its end is told as `outbox` client events exactly as
// the desktop core tells them: `queued`, then `sent` (with the stored message for sends) or
// `failed`; `retried` and `discarded` follow the user's choice.
import { isTransient, ParleyError } from '@parley/client';
import type { ClientEvent, Message, OutboxEntry } from '../bindings';
import { CommandError, toCommandError } from './errors';

export type Deliver = (entry: OutboxEntry) => Promise<Message | null>;

function newClientId(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

export class WebOutbox {
  private readonly entries = new Map<number, OutboxEntry>();
  private nextId = 1;

  constructor(
    private readonly emit: (event: ClientEvent) => void,
    private readonly deliver: Deliver,
  ) {}

  /** Queues an entry and starts delivering it; answers the entry (state `pending`). */
  queue(kind: string, target: string, body: string, clientId: string = newClientId()): OutboxEntry {
    const entry: OutboxEntry = {
      local_id: this.nextId++,
      kind,
      target,
      body,
      client_id: clientId,
      created_at: Date.now(),
      state: 'pending',
      error_code: null,
      error: null,
      attempts: 0,
    };
    this.entries.set(entry.local_id, entry);
    this.emit({ kind: 'outbox', change: 'queued', entry: { ...entry }, message: null });
    void this.run(entry);
    return { ...entry };
  }

  private async run(entry: OutboxEntry): Promise<void> {
    const id = entry.local_id;
    entry.attempts += 1;
    let message: Message | null;
    try {
      message = await this.deliver(entry);
    } catch (err) {
      if (this.entries.get(id) !== entry) return;
      const e = toCommandError(err);
      // Signed out (the client closed): nothing more to tell.
      if (e.code === 'closed') return;
      entry.state = 'failed';
      entry.error_code = e.code;
      entry.error = e.message;
      this.emit({ kind: 'outbox', change: 'failed', entry: { ...entry }, message: null });
      return;
    }
    if (this.entries.get(id) !== entry) return;
    this.entries.delete(id);
    this.emit({ kind: 'outbox', change: 'sent', entry: { ...entry }, message });
  }

  list(): OutboxEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }

  /** Sends a failed entry again (under its client_id); false when there is no such entry. */
  retry(localId: number): boolean {
    const entry = this.entries.get(localId);
    if (entry == null) return false;
    if (entry.state !== 'failed') return true;
    entry.state = 'pending';
    entry.error = null;
    entry.error_code = null;
    this.emit({ kind: 'outbox', change: 'retried', entry: { ...entry }, message: null });
    void this.run(entry);
    return true;
  }

  /** Drops a failed entry. One being delivered cannot be called back from the wire. */
  discard(localId: number): boolean {
    const entry = this.entries.get(localId);
    if (entry == null) return false;
    if (entry.state === 'pending') {
      throw new CommandError({
        code: 'in_flight',
        message: 'this is being sent now; it can be discarded if it fails',
      });
    }
    this.entries.delete(localId);
    this.emit({ kind: 'outbox', change: 'discarded', entry: { ...entry }, message: null });
    return true;
  }

  /** Signed out: everything is forgotten. */
  clear(): void {
    this.entries.clear();
  }
}

/** 200 ms doubling per attempt, at most 10 s (the desktop outbox's backoff). */
export function backoffMs(attempt: number): number {
  return Math.min(10_000, 200 * 2 ** Math.min(Math.max(attempt, 0), 6));
}

/** Runs `action` until it succeeds or fails for good: transient failures (offline, timeouts,
 * rate limits, a busy server) are retried with backoff while `alive()`. */
export async function untilDone<T>(
  action: () => Promise<T>,
  alive: () => boolean,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await action();
    } catch (err) {
      if (!alive()) throw new ParleyError('closed', 'signed out');
      if (!isTransient(err)) throw err;
      const after = err instanceof ParleyError && err.retryAfterMs != null ? err.retryAfterMs : backoffMs(attempt);
      await sleep(after);
      if (!alive()) throw new ParleyError('closed', 'signed out');
    }
  }
}
