// What a ParleyClient is made with and hands out.
import { ParleyError } from './errors.js';
import type { EventFrame, SubscribeResult } from './protocol.js';

/** The part of the WHATWG WebSocket the SDK uses (browsers, Node 22+, or `ws`). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Opens a socket. `headers` are for platforms that can send them (Node's `ws`); browsers
 * cannot, and the token then travels in the query. */
export type SocketFactory = (url: string, headers: Record<string, string>) => WebSocketLike;

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientOptions {
  /** `https://chat.example.com`; '' in a page served by the Parley server itself. */
  url: string;
  /** A bearer token (from `login`); without one, a browser's session cookie signs in, or
   * the session is anonymous. */
  token?: string | null;
  /** How to open sockets (the Node entry point brings one on `ws`). Default: the platform's
   * WebSocket, token in the query. */
  socket?: SocketFactory;
  fetch?: typeof fetch;
  /** Batched delivery (`?batch_ms=`, docs/protocol.md §2.5): fewer, larger frames. */
  batchMs?: number;
  /** Reconnect delays: the first, and the cap (doubling between, with jitter). */
  minReconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** How long a request may wait for its answer (connecting included). Default 20 s. */
  requestTimeoutMs?: number;
  /** At most this many requests wait for a connection; more are refused (`queue_full`). */
  maxQueuedRequests?: number;
  /** At most this many sends and publishes wait for acknowledgement. */
  maxOutbox?: number;
}

/** Where a followed channel stands: persist it to resume across page loads. */
export interface Position {
  epoch: string | null;
  seq: number | null;
}

export interface SubscriptionHandlers {
  /** Every event of the channel (durable ones once each, in seq order). */
  onEvent?: (frame: EventFrame) => void;
  /** The channel's history was recreated (`epoch_changed`): drop what you cached of it and
   * reload with `history`; live events follow. */
  onReset?: (result: SubscribeResult) => void;
  /** Retention removed events the client had not seen (`history_truncated`): seqs
   * `from`…`to` are gone. */
  onGap?: (gap: { channel: string; from: number; to: number }) => void;
  /** The backlog is delivered; what follows is live. */
  onSynced?: (channel: string) => void;
  /** The server ended the subscription (`access_revoked`, `channel_deleted`). */
  onEnded?: (reason: string) => void;
}

export interface Subscription {
  readonly channel: string;
  /** The subscribe result of the latest (re)subscription. */
  readonly result: SubscribeResult | null;
  position(): Position;
  unsubscribe(): Promise<void>;
}

export function randomId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  c?.getRandomValues?.(bytes);
  return Array.from(bytes, (b) => (b ^ Math.floor(Math.random() * 256)).toString(16).padStart(2, '0')).join('');
}

/** The platform's WebSocket; the token goes in the query (browsers cannot set headers). */
export function platformSocket(): SocketFactory {
  return (url) => {
    const Ctor = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
    if (!Ctor) {
      throw new ParleyError(
        'network',
        'this platform has no WebSocket: on Node 20, import "@parley/client" (its Node entry uses the ws package)',
      );
    }
    return new Ctor(url);
  };
}

