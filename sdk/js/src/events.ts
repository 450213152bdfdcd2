// Listeners by name: the client's own events, the protocol's event kinds, the familiar names
// front-end tools use for them, and custom events.
import type { ParleyError } from './errors.js';
import type { Event, EventFrame, Hello, SubscribeResult } from './protocol.js';

/** The protocol's event kinds (docs/protocol.md §6). */
export type EventKind = Event['kind'];

export const EVENT_KINDS: readonly EventKind[] = [
  'message',
  'member_joined',
  'member_left',
  'channel_updated',
  'presence',
  'typing',
  'unsubscribed',
  'message_edited',
  'message_deleted',
  'reaction',
  'thread_updated',
  'mention',
  'comment_mention',
  'read_receipt',
  'read',
  'comment_created',
  'comment_edited',
  'comment_resolved',
  'comment_deleted',
  'custom',
];

/**
 * Familiar names for the protocol's kinds, as front-end tools (WeWeb, Pusher-style
 * bindings) name them. `new_message` is `message`, and so on; the handler gets the same frame.
 */
export const ALIASES = {
  new_message: 'message',
  presence_update: 'presence',
  message_updated: 'message_edited',
  message_removed: 'message_deleted',
  reaction_update: 'reaction',
  member_join: 'member_joined',
  member_leave: 'member_left',
  channel_update: 'channel_updated',
} as const satisfies Record<string, EventKind>;

export type Alias = keyof typeof ALIASES;

/** Events of the connection itself. */
export interface ClientEvents {
  state: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
  hello: Hello;
  disconnect: { code: number; reason: string };
  error: ParleyError;
  reset: SubscribeResult;
  gap: { channel: string; from: number; to: number };
  synced: string;
}

export type EventName = keyof ClientEvents | EventKind | Alias | (string & {});

/** What a handler of `name` receives: an event frame of that kind, the data of a custom
 * event (and its frame), or a connection event's value. */
export type Handler<N> = N extends keyof ClientEvents
  ? (value: ClientEvents[N]) => void
  : N extends EventKind
    ? (frame: Extract<EventFrame, { kind: N }>) => void
    : N extends Alias
      ? (frame: Extract<EventFrame, { kind: (typeof ALIASES)[N] }>) => void
      : (data: unknown, frame: EventFrame) => void;

const CLIENT_EVENTS = new Set(['state', 'hello', 'disconnect', 'error', 'reset', 'gap', 'synced']);

/** The internal key of a listener name: `kind:<kind>`, `custom:<name>` or a client event. */
export function resolveName(name: string): string {
  if (CLIENT_EVENTS.has(name)) return name;
  if ((EVENT_KINDS as readonly string[]).includes(name)) return `kind:${name}`;
  if (name in ALIASES) return `kind:${ALIASES[name as Alias]}`;
  return `custom:${name}`;
}

type Listener = (a: never, b?: never) => void;

export class Emitter {
  private readonly listeners = new Map<string, Set<Listener>>();

  on(key: string, fn: Listener): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    set.add(fn);
    return () => set.delete(fn);
  }

  emit(key: string, value: unknown, extra?: unknown): void {
    for (const fn of [...(this.listeners.get(key) ?? [])]) {
      try {
        (fn as (a: unknown, b?: unknown) => void)(value, extra);
      } catch (err) {
        // A throwing listener must not break delivery to the others or the connection.
        console.error('a Parley listener failed:', err);
      }
    }
  }

  /** An event frame: to its kind's listeners, and a custom event to its name's too. */
  dispatch(frame: EventFrame): void {
    this.emit(`kind:${frame.kind}`, frame);
    if (frame.kind === 'custom') this.emit(`custom:${frame.event}`, frame.data, frame);
  }
}
