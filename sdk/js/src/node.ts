// The Node entry point: the same SDK, with sockets from the `ws` package when it is installed
// (Node 20 has no WebSocket of its own). The token then travels in the Authorization header,
// not in the URL. Without `ws`, the platform's WebSocket is used (Node 22+).
import { ParleyClient as BaseClient } from './client.js';
import { platformSocket, type ClientOptions, type SocketFactory, type WebSocketLike } from './options.js';

export * from './index.js';

type WsClass = new (url: string, opts: { headers: Record<string, string> }) => WebSocketLike;

const ws: WsClass | null = await import('ws').then(
  (m) => ((m as { default?: WsClass }).default ?? (m as unknown as { WebSocket: WsClass }).WebSocket) as WsClass,
  () => null,
);

/** Sockets on `ws`, with headers. */
export function nodeSocket(): SocketFactory | null {
  if (!ws) return null;
  const Ws = ws;
  return (url, headers) => new Ws(url, { headers });
}

/** `ParleyClient` for Node: `ws` sockets and header authentication when `ws` is installed. */
export class ParleyClient extends BaseClient {
  constructor(options: ClientOptions) {
    const socket = nodeSocket();
    super(options, socket ?? platformSocket(), socket !== null);
  }
}
