// A followed channel: where it stands (epoch, last durable seq delivered) and how it is
// resumed after a reconnect (docs/protocol.md §7).
import { ParleyError, isTransient } from './errors.js';
import type { Emitter } from './events.js';
import type { SubscriptionHandlers } from './options.js';
import type { SubscribeResult } from './protocol.js';

export type SubscribeFields = { channel: string; since?: number | null; epoch?: string | null };

export interface Followed {
  channel: string;
  epoch: string | null;
  /** The last durable seq delivered (null: none yet, live only). */
  seq: number | null;
  /** A (re)subscribe is under way on this connection: durable events wait for its reply. */
  resuming: boolean;
  /** Explicitly subscribed (false: the server's automatic subscription, followed too). */
  explicit: boolean;
  handlers: Set<SubscriptionHandlers>;
  result: SubscribeResult | null;
}

export function newFollowed(channel: string, epoch: string | null, seq: number | null, explicit: boolean): Followed {
  return { channel, epoch, seq, resuming: false, explicit, handlers: new Set(), result: null };
}

/** (Re)subscribes from where the channel stands: the backlog after its seq follows, then
 * live events; a reset or a gap is told to its handlers. The reply is applied the moment it
 * is read (`onReply`), before the backlog frames behind it, which the resume lets through. */
export async function resumeChannel(
  f: Followed,
  subscribe: (fields: SubscribeFields, onReply: (result: SubscribeResult) => void) => Promise<SubscribeResult>,
  emitter: Emitter,
  forget: () => void,
): Promise<void> {
  f.resuming = true;
  const since = f.seq;
  const fields: SubscribeFields = { channel: f.channel };
  if (since !== null) {
    fields.since = since;
    if (f.epoch) fields.epoch = f.epoch;
  }
  const applied = (result: SubscribeResult) => {
    f.result = result;
    f.resuming = false;
    f.epoch = result.epoch;
    if (since === null) {
      f.seq = result.head;
    } else if (result.reset === 'epoch_changed') {
      f.seq = result.head;
      for (const h of f.handlers) h.onReset?.(result);
      emitter.emit('reset', result);
    } else if (result.reset === 'history_truncated') {
      const gap = { channel: f.channel, from: since + 1, to: result.oldest_seq - 1 };
      for (const h of f.handlers) h.onGap?.(gap);
      emitter.emit('gap', gap);
    }
  };
  try {
    await subscribe(fields, applied);
  } catch (err) {
    f.resuming = false;
    if (err instanceof ParleyError && !isTransient(err) && err.code !== 'closed') {
      // The channel is gone or forbidden: stop following it.
      forget();
      for (const h of f.handlers) h.onEnded?.(err.code);
      emitter.emit('error', err);
    }
    throw err;
  }
}
