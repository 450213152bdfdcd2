// Sends and publishes waiting for the server's acknowledgement. Each keeps its `client_id`
// for life, so a retry after a lost answer is answered `duplicate` and nothing is stored
// twice; one is on the wire at a time, so they are stored in the order they were made.
import { ParleyError, isTransient } from './errors.js';

interface Item {
  key: string;
  op: 'send' | 'publish';
  fields: Record<string, unknown>;
  resolve: (result: unknown) => void;
  reject: (err: ParleyError) => void;
  inFlight: boolean;
}

export interface Unacknowledged {
  op: 'send' | 'publish';
  channel: string;
  clientId: string;
  text?: string;
}

export class Outbox {
  private readonly items = new Map<string, Item>();

  constructor(
    private readonly max: number,
    private readonly request: (op: 'send' | 'publish', fields: Record<string, unknown>) => Promise<unknown>,
    /** The open connection (null: offline); a retry is only sent on the connection it was
     * scheduled on, a new one pumps on its own. */
    private readonly connection: () => object | null,
  ) {}

  add(op: 'send' | 'publish', fields: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.items.size >= this.max) {
        reject(new ParleyError('queue_full', 'too many messages wait to be sent'));
        return;
      }
      const key = String(fields.client_id);
      const existing = this.items.get(key);
      if (existing) {
        // The same client_id again: one entry, both callers get its answer.
        const first = existing.resolve;
        const firstReject = existing.reject;
        existing.resolve = (r) => (first(r), resolve(r));
        existing.reject = (e) => (firstReject(e), reject(e));
        return;
      }
      this.items.set(key, { key, op, fields, resolve, reject, inFlight: false });
      this.pump();
    });
  }

  /** Sends the oldest item unless one is on the wire already. */
  pump(): void {
    const conn = this.connection();
    if (!conn) return;
    const item = this.items.values().next().value as Item | undefined;
    if (!item || item.inFlight) return;
    item.inFlight = true;
    this.request(item.op, item.fields).then(
      (result) => {
        this.items.delete(item.key);
        item.resolve(result);
        this.pump();
      },
      (err: ParleyError) => {
        item.inFlight = false;
        if (err.code === 'closed') return;
        if (isTransient(err)) {
          // Again: at once after a reconnect (the new connection pumps), or after the
          // server's delay on this one.
          const wait = err.retryAfterMs ?? (err.code === 'disconnected' ? 0 : 1000);
          setTimeout(() => {
            if (this.connection() === conn) this.pump();
          }, wait);
          return;
        }
        this.items.delete(item.key);
        item.reject(err);
        this.pump();
      },
    );
  }

  /** The connection dropped: whatever was on the wire goes again on the next one. */
  disconnected(): void {
    for (const item of this.items.values()) item.inFlight = false;
  }

  rejectAll(err: ParleyError): void {
    for (const item of this.items.values()) item.reject(err);
    this.items.clear();
  }

  list(): Unacknowledged[] {
    return [...this.items.values()].map((i) => ({
      op: i.op,
      channel: String(i.fields.channel),
      clientId: i.key,
      text: i.op === 'send' ? String(i.fields.text) : undefined,
    }));
  }
}
