// Documents: stock y-websocket clients connect to /docs/{name} (docs/protocol.md §14). The
// SDK gives them the URL, room and parameters a browser may use (the token in the query,
// since browsers cannot set headers on a WebSocket; a cookie session needs none).
import type { ParleyClient } from './client.js';

export interface DocumentConnection {
  /** `ws(s)://host/docs`: y-websocket's `serverUrl`. */
  serverUrl: string;
  /** The document's name: y-websocket's `roomname`. */
  room: string;
  /** y-websocket's `params`: the token, and the document's id when known (so a copy of a
   * deleted document is never uploaded into a new one that took its name). */
  params: Record<string, string>;
}

export function documentConnection(client: ParleyClient, name: string, opts: { docId?: number } = {}): DocumentConnection {
  const params: Record<string, string> = {};
  const token = client.http.token;
  if (token) params.token = token;
  if (opts.docId !== undefined) params.doc_id = String(opts.docId);
  return { serverUrl: client.socketUrl('/docs'), room: name, params };
}

/** y-websocket's WebsocketProvider, passed in so the SDK does not depend on it. */
export type ProviderClass<D, P> = new (
  serverUrl: string,
  room: string,
  doc: D,
  opts: { params: Record<string, string>; WebSocketPolyfill?: unknown; connect?: boolean },
) => P;

/**
 * Opens a document with y-websocket: `openDocument(client, 'design', new Y.Doc(),
 * WebsocketProvider)`. Returns the provider (`provider.on('sync', …)`, `provider.awareness`,
 * `provider.destroy()`).
 */
export function openDocument<D, P>(
  client: ParleyClient,
  name: string,
  doc: D,
  Provider: ProviderClass<D, P>,
  opts: { docId?: number; WebSocketPolyfill?: unknown } = {},
): P {
  const c = documentConnection(client, name, opts);
  return new Provider(c.serverUrl, c.room, doc, {
    params: c.params,
    ...(opts.WebSocketPolyfill ? { WebSocketPolyfill: opts.WebSocketPolyfill } : {}),
  });
}
