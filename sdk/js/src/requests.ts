// Requests and their answers, matched by `id`. A request made while offline waits for the
// connection (a bounded queue); every request has a deadline.
import { ParleyError } from './errors.js';

interface Pending {
  id: number;
  /** The request's JSON without its id: `{"type":…}`. */
  body: string;
  resolve: (result: unknown) => void;
  reject: (err: ParleyError) => void;
  /** Runs as the answer is read, before the frames after it: a promise's continuation
   * would run too late (`ws` dispatches every frame of a network read in one go). */
  onReply?: (result: unknown) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

export class Requests {
  private nextId = 1;
  /** On the wire, waiting for their answer. */
  private readonly pending = new Map<number, Pending>();
  /** Made while offline, waiting for a connection. */
  private readonly waiting: Pending[] = [];

  constructor(
    private readonly timeoutMs: number,
    private readonly maxWaiting: number,
    /** The open socket, or null. */
    private readonly socket: () => { send(data: string): void } | null,
  ) {}

  make(body: string, what: string, onReply?: (result: unknown) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const p: Pending = { id: this.nextId++, body, resolve, reject, onReply, timer: null };
      if (!this.socket() && this.waiting.length >= this.maxWaiting) {
        reject(new ParleyError('queue_full', 'too many requests wait for the connection'));
        return;
      }
      p.timer = setTimeout(() => {
        this.pending.delete(p.id);
        const at = this.waiting.indexOf(p);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new ParleyError('timeout', `no answer to ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      if (this.socket()) this.transmit(p);
      else this.waiting.push(p);
    });
  }

  /** Settles request `id` (false: no such request, e.g. it timed out). */
  answer(id: number, result: unknown, err: ParleyError | null): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if (err) {
      p.reject(err);
    } else {
      p.onReply?.(result);
      p.resolve(result);
    }
    return true;
  }

  /** A connection opened: what waited goes out, in order. */
  flush(): void {
    for (const p of this.waiting.splice(0)) this.transmit(p);
  }

  /** The connection dropped: what was on the wire will never be answered. */
  disconnected(): void {
    const lost = [...this.pending.values()];
    this.pending.clear();
    for (const p of lost) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new ParleyError('disconnected', 'the connection dropped before the answer came'));
    }
  }

  failAll(err: ParleyError): void {
    const all = [...this.pending.values(), ...this.waiting.splice(0)];
    this.pending.clear();
    for (const p of all) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private transmit(p: Pending): void {
    this.pending.set(p.id, p);
    try {
      // The id goes first, as the protocol's examples have it.
      this.socket()?.send(`{"id":${p.id},${p.body.slice(1)}`);
    } catch {
      /* the close handler fails it */
    }
  }
}
