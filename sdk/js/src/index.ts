// @parley/client: Parley's SDK for browsers and Node (docs/frontend.md).
export { ParleyClient } from './client.js';
export { platformSocket } from './options.js';
export type { Unacknowledged } from './outbox.js';
export type {
  ClientOptions,
  ConnectionState,
  Position,

  SocketFactory,
  Subscription,
  SubscriptionHandlers,
  WebSocketLike,
} from './options.js';
export type { ResultOf } from './client.js';
export { ParleyError, isTransient } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export { ALIASES, EVENT_KINDS } from './events.js';
export type { Alias, ClientEvents, EventKind, EventName, Handler } from './events.js';
export { apiRequest, login, logout, me, register } from './http.js';
export type { HttpOptions, Registration, SignInOptions } from './http.js';
export { documentConnection, openDocument } from './docs.js';
export type { DocumentConnection, ProviderClass } from './docs.js';
export * from './protocol.js';
