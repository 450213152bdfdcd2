// ParleyClient: one WebSocket session to /ws that survives the network. It reconnects with
// capped, jittered backoff; on every reconnect it resumes each followed channel from the last
// durable seq it delivered (`since` + `epoch`, docs/protocol.md §7), so the application sees
// every durable event once, in order, with no gap; and it retries sends and publishes under
// their `client_id` until the server acknowledges them, one at a time, in order.
import { ParleyError } from './errors.js';
import { apiRequest, baseUrl, type HttpOptions } from './http.js';
import { newFollowed, resumeChannel, type Followed } from './follow.js';
import { Requests } from './requests.js';
import { Outbox, type Unacknowledged } from './outbox.js';
import {
  platformSocket,
  randomId,
  type ClientOptions,
  type ConnectionState,
  type Position,
  type SocketFactory,
  type Subscription,
  type SubscriptionHandlers,
  type WebSocketLike,
} from './options.js';
import { Emitter, resolveName, type ClientEvents, type EventName, type Handler } from './events.js';
import type {
  EventFrame,
  Hello,
  HistoryPage,
  Message,
  Op,
  PresenceEntry,
  PublishResult,
  Reply,
  ServerFrame,
  UserRef,
} from './protocol.js';
import { PROTOCOL_VERSION } from './protocol.js';

type OpName = Op['type'];
type OpFields<T extends OpName> = Omit<Extract<Op, { type: T }>, 'type'>;
export type ResultOf<T extends OpName> = Extract<Reply, { op: T }> extends { result: infer R } ? R : null;




export class ParleyClient {
  private readonly opts: Required<Omit<ClientOptions, 'token' | 'fetch' | 'batchMs' | 'socket'>> &
    Pick<ClientOptions, 'fetch' | 'batchMs'>;
  private token: string | null;
  private readonly socketFactory: SocketFactory;
  private readonly headerAuth: boolean;
  private ws: WebSocketLike | null = null;
  private connState: ConnectionState = 'idle';
  private helloFrame: Hello | null = null;
  private readonly requests: Requests;
  private readonly followed = new Map<string, Followed>();
  private readonly outbox: Outbox;
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private readonly emitter = new Emitter();
  private readonly typingSent = new Map<string, number>();
  private connectWaiters: { resolve: (h: Hello) => void; reject: (e: ParleyError) => void }[] = [];

  constructor(options: ClientOptions, socket?: SocketFactory, headerAuth = false) {
    this.opts = {
      url: options.url,
      fetch: options.fetch,
      batchMs: options.batchMs,
      minReconnectDelayMs: options.minReconnectDelayMs ?? 250,
      maxReconnectDelayMs: options.maxReconnectDelayMs ?? 15_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 20_000,
      maxQueuedRequests: options.maxQueuedRequests ?? 1000,
      maxOutbox: options.maxOutbox ?? 1000,
    };
    this.token = options.token ?? null;
    this.socketFactory = options.socket ?? socket ?? platformSocket();
    this.headerAuth = options.socket ? false : headerAuth;
    this.requests = new Requests(
      this.opts.requestTimeoutMs,
      this.opts.maxQueuedRequests,
      () => (this.connState === 'open' ? this.ws : null),
    );
    this.outbox = new Outbox(
      this.opts.maxOutbox,
      (op, fields) => this.request(op, fields as never) as Promise<unknown>,
      () => (this.connState === 'open' ? this.ws : null),
    );
  }

  // --- connection -------------------------------------------------------------------------

  /** Connects (or waits for the connection under way); resolves with the server's hello. */
  connect(): Promise<Hello> {
    if (this.connState === 'open' && this.helloFrame) return Promise.resolve(this.helloFrame);
    const wait = new Promise<Hello>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.connState === 'idle' || this.connState === 'closed') {
      this.setState('connecting');
      this.open();
    }
    return wait;
  }

  /** Closes for good: no reconnect; waiting requests and unacknowledged sends fail with
   * `closed`. */
  close(): void {
    this.setState('closed');
    this.stopTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000, 'client closed');
      } catch {
        /* already closed */
      }
    }
    const err = new ParleyError('closed', 'the client was closed');
    this.requests.failAll(err);
    this.outbox.rejectAll(err);
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
  }

  /** Drops the current connection as a network failure would, then reconnects (for tests
   * and for "reconnect now" buttons). */
  reconnect(): void {
    if (this.connState === 'closed') return;
    this.ws?.close(4100, 'reconnect');
    if (!this.ws) this.open();
  }

  /** Uses another token from now on (the next connection signs in with it). */
  setToken(token: string | null): void {
    this.token = token;
  }

  get state(): ConnectionState {
    return this.connState;
  }

  /** The latest hello (null before the first connection). */
  get hello(): Hello | null {
    return this.helloFrame;
  }

  /** The signed-in user (null: anonymous, or not connected yet). */
  get user(): UserRef | null {
    return this.helloFrame?.user ?? null;
  }

  /** HTTP API options with this client's server and token (cookie when no token). */
  get http(): HttpOptions {
    return { url: this.opts.url, token: this.token, fetch: this.opts.fetch };
  }

  /** Calls the HTTP API as this client's user. */
  api<T>(method: string, path: string, body?: unknown): Promise<T> {
    return apiRequest<T>(this.http, method, path, body);
  }

  /** The WebSocket URL of a path (`/ws`, `/docs`). */
  socketUrl(path: string): string {
    return baseUrl(this.opts.url).replace(/^http/, 'ws') + path;
  }

  private open(): void {
    const params = new URLSearchParams({ v: String(PROTOCOL_VERSION) });
    const headers: Record<string, string> = { 'Parley-Protocol': String(PROTOCOL_VERSION) };
    if (this.token) {
      if (this.headerAuth) headers.Authorization = `Bearer ${this.token}`;
      else params.set('token', this.token);
    }
    if (this.opts.batchMs) params.set('batch_ms', String(this.opts.batchMs));
    let ws: WebSocketLike;
    try {
      ws = this.socketFactory(`${this.socketUrl('/ws')}?${params}`, headers);
    } catch (err) {
      this.emitter.emit('error', err instanceof ParleyError ? err : new ParleyError('network', String(err)));
      this.scheduleReconnect(false);
      return;
    }
    this.ws = ws;
    this.lastHeard = Date.now();
    let greeted = false;
    ws.onmessage = (ev) => {
      this.lastHeard = Date.now();
      const text = typeof ev.data === 'string' ? ev.data : String(ev.data);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return;
      }
      const frames = (Array.isArray(parsed) ? parsed : [parsed]) as ServerFrame[];
      for (const frame of frames) {
        if (frame.type === 'hello') greeted = true;
        this.onFrame(frame);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onDisconnect(ev.code, ev.reason, greeted);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
    // A connection that never greets is given up on (and retried).
    const deadline = setTimeout(() => {
      if (this.ws === ws && !greeted) ws.close(4100, 'no hello');
    }, this.opts.requestTimeoutMs);
    const clear = ws.onclose;
    ws.onclose = (ev) => {
      clearTimeout(deadline);
      clear?.(ev);
    };
  }

  private onDisconnect(code: number, reason: string, greeted: boolean): void {
    this.stopTimers();
    for (const f of this.followed.values()) f.resuming = false;
    // Requests on the wire are lost with the connection; sends and publishes are kept and
    // sent again under the same client_id.
    this.requests.disconnected();
    this.outbox.disconnected();
    if (this.connState === 'closed') return;
    this.emitter.emit('disconnect', { code, reason });
    if (code === 4002) {
      // The token was revoked (signed out elsewhere, or disabled): retrying cannot help.
      this.fail(new ParleyError('invalid_credentials', 'the session was signed out (4002)'));
      return;
    }
    if (!greeted && this.attempts >= 1) {
      // Refused at the upgrade? Browsers hide the HTTP answer; ask the API who we are.
      void this.checkCredentials();
    }
    this.scheduleReconnect(true);
  }

  private async checkCredentials(): Promise<void> {
    if (!this.token) return;
    try {
      await apiRequest(this.http, 'GET', '/api/me');
    } catch (err) {
      if (err instanceof ParleyError && err.code === 'invalid_credentials' && this.connState !== 'closed') {
        this.fail(err);
      }
    }
  }

  /** Gives up for good with this error. */
  private fail(err: ParleyError): void {
    this.emitter.emit('error', err);
    for (const w of this.connectWaiters.splice(0)) w.reject(err);
    this.close();
  }

  private scheduleReconnect(wasOpen: boolean): void {
    if (this.connState === 'closed') return;
    this.setState(wasOpen || this.helloFrame ? 'reconnecting' : 'connecting');
    const base = Math.min(this.opts.maxReconnectDelayMs, this.opts.minReconnectDelayMs * 2 ** this.attempts);
    const delay = base / 2 + (Math.random() * base) / 2;
    this.attempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.connState !== 'closed') this.open();
    }, delay);
  }

  private stopTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.reconnectTimer = null;
    this.heartbeat = null;
  }

  private setState(state: ConnectionState): void {
    if (this.connState === state) return;
    this.connState = state;
    this.emitter.emit('state', state);
  }

  // --- frames -----------------------------------------------------------------------------

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'hello':
        this.onHello(frame as Hello);
        break;
      case 'reply':
        this.requests.answer(frame.id, (frame as { result?: unknown }).result ?? null, null);
        break;
      case 'error': {
        const err = new ParleyError(frame.code, frame.message, frame.retry_after_ms ?? null);
        if (frame.id == null || !this.requests.answer(frame.id, null, err)) this.emitter.emit('error', err);
        break;
      }
      case 'event':
        this.onEvent(frame as EventFrame);
        break;
      case 'synced': {
        const f = this.followed.get(frame.channel);
        for (const h of f?.handlers ?? []) h.onSynced?.(frame.channel);
        this.emitter.emit('synced', frame.channel);
        break;
      }
    }
  }

  private onHello(hello: Hello): void {
    this.helloFrame = hello;
    this.attempts = 0;
    // The server's automatic subscriptions are followed too, so they resume like the rest.
    for (const sub of hello.subscriptions) {
      const f = this.followed.get(sub.channel);
      if (!f) {
        this.followed.set(sub.channel, newFollowed(sub.channel, sub.epoch, sub.head, false));
      } else if (f.seq === null) {
        f.epoch = sub.epoch;
        f.seq = sub.head;
      }
    }
    this.setState('open');
    this.startHeartbeat(hello.ping_interval_ms);
    this.emitter.emit('hello', hello);
    for (const w of this.connectWaiters.splice(0)) w.resolve(hello);
    // Resume every followed channel from where it was (an automatic subscription is
    // replaced by the explicit one: its backlog fills whatever happened in between).
    const auto = new Set(hello.subscriptions.map((s) => s.channel));
    for (const f of this.followed.values()) {
      // A refusal is reported by resumeChannel (onEnded, 'error'); a cut is retried at the
      // next hello. Either way nobody awaits this promise: it must not reject unhandled.
      if (f.explicit || !auto.has(f.channel) || f.seq !== null) this.resume(f).catch(() => undefined);
    }
    this.outbox.pump();
    this.requests.flush();
  }

  private startHeartbeat(pingIntervalMs: number): void {
    // Browsers answer the server's pings without telling scripts, so a silent network is
    // noticed with the protocol's own ping: nothing heard for two intervals means dead.
    const every = Math.max(1000, Math.min(pingIntervalMs, 30_000));
    this.heartbeat = setInterval(() => {
      if (!this.ws || this.connState !== 'open') return;
      if (Date.now() - this.lastHeard > 2 * every + 5000) {
        this.ws.close(4100, 'server silent');
        return;
      }
      this.request('ping', {}).catch(() => undefined);
    }, every);
  }

  private onEvent(frame: EventFrame): void {
    const f = this.followed.get(frame.channel);
    if (frame.seq != null && f) {
      // Durable: once each, in order. While a resume is under way, the old subscription's
      // frames are dropped: the resume's backlog brings them.
      if (f.resuming) return;
      if (f.seq !== null && frame.seq <= f.seq) return;
      f.seq = frame.seq;
    }
    if (frame.kind === 'unsubscribed' && f) {
      this.followed.delete(frame.channel);
      for (const h of f.handlers) h.onEnded?.(frame.reason);
    }
    for (const h of f?.handlers ?? []) {
      try {
        h.onEvent?.(frame);
      } catch (err) {
        console.error('a Parley subscription handler failed:', err);
      }
    }
    this.emitter.dispatch(frame);
  }

  // --- requests ---------------------------------------------------------------------------

  /** Sends any operation; resolves with its typed result. Requests made while disconnected
   * wait for the connection (bounded); one cut off by a disconnect fails with
   * `disconnected` (sends and publishes retry on their own: use `send`/`publish`). */
  request<T extends OpName>(
    type: T,
    fields: OpFields<T>,
    onReply?: (result: ResultOf<T>) => void,
  ): Promise<ResultOf<T>> {
    if (this.connState === 'closed') return Promise.reject(new ParleyError('closed', 'the client was closed'));
    const done = this.requests.make(
      JSON.stringify({ type, ...fields }),
      type,
      onReply as ((result: unknown) => void) | undefined,
    ) as Promise<ResultOf<T>>;
    if (this.connState === 'idle') void this.connect().catch(() => undefined);
    return done;
  }

  // --- channels ---------------------------------------------------------------------------


  /**
   * Follows a channel: its events go to `handlers` (and to `on` listeners) from now on, and
   * after every reconnect the SDK resumes from the last durable event delivered.
   * `from` starts from a saved position (`position()` of an earlier run) or `{seq: 0}` for
   * the whole stored log; without it, delivery is live from now.
   */
  async subscribe(channel: string, handlers: SubscriptionHandlers = {}, from?: Position): Promise<Subscription> {
    let f = this.followed.get(channel);
    if (!f) {
      f = newFollowed(channel, from?.epoch ?? null, from?.seq ?? null, true);
      this.followed.set(channel, f);
    } else if (from && from.seq !== null) {
      f.epoch = from.epoch;
      f.seq = from.seq;
    }
    f.explicit = true;
    f.handlers.add(handlers);
    const followed = f;
    if (this.connState === 'open') {
      await this.resume(followed);
    } else {
      await this.connect();
      // onHello resumed it; wait for that answer.
      if (followed.resuming) await this.until(() => !followed.resuming);
    }
    return {
      channel,
      get result() {
        return followed.result;
      },
      position: () => ({ epoch: followed.epoch, seq: followed.seq }),
      unsubscribe: async () => {
        followed.handlers.delete(handlers);
        if (followed.handlers.size > 0 || this.followed.get(channel) !== followed) return;
        this.followed.delete(channel);
        await this.request('unsubscribe', { channel }).catch((err: ParleyError) => {
          if (err.code !== 'not_subscribed' && err.code !== 'disconnected') throw err;
        });
      },
    };
  }

  private async until(done: () => boolean): Promise<void> {
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new ParleyError('timeout', 'the subscription did not resume in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private resume(f: Followed): Promise<void> {
    return resumeChannel(f, (fields, onReply) => this.request('subscribe', fields, onReply), this.emitter, () => {
      this.followed.delete(f.channel);
    });
  }

  /** Where a followed channel stands (null: not followed). */
  position(channel: string): Position | null {
    const f = this.followed.get(channel);
    return f ? { epoch: f.epoch, seq: f.seq } : null;
  }

  /** The channels followed now. */
  get channelsFollowed(): string[] {
    return [...this.followed.keys()];
  }

  // --- sends and publishes ----------------------------------------------------------------

  /**
   * Posts a message. It waits in the outbox while offline and is retried under the same
   * `client_id` until the server acknowledges it, so it is stored exactly once; messages go
   * out one at a time in the order they were sent. Resolves with the stored message;
   * rejects only for refusals retrying cannot fix (`not_member`, `message_too_long`…) or
   * `close()`.
   */
  send(channel: string, text: string, opts: { clientId?: string; attachments?: number[] } = {}): Promise<Message> {
    const fields: Record<string, unknown> = { channel, text, client_id: opts.clientId ?? randomId() };
    if (opts.attachments?.length) fields.attachments = opts.attachments;
    return this.enqueue('send', fields).then((r) => (r as { message: Message }).message);
  }

  /** Publishes a custom event (docs/protocol.md `publish`), retried like `send`. */
  publish(
    channel: string,
    event: string,
    data: unknown = null,
    opts: { durable?: boolean; clientId?: string; user?: string } = {},
  ): Promise<PublishResult> {
    const fields: Record<string, unknown> = {
      channel,
      event,
      data,
      durable: opts.durable ?? false,
      client_id: opts.clientId ?? randomId(),
    };
    if (opts.user) fields.user = opts.user;
    return this.enqueue('publish', fields) as Promise<PublishResult>;
  }

  /** Sends and publishes not yet acknowledged, oldest first. */
  get unacknowledged(): Unacknowledged[] {
    return this.outbox.list();
  }

  private enqueue(op: 'send' | 'publish', fields: Record<string, unknown>): Promise<unknown> {
    if (this.connState === 'closed') return Promise.reject(new ParleyError('closed', 'the client was closed'));
    const done = this.outbox.add(op, fields);
    if (this.connState === 'idle') void this.connect().catch(() => undefined);
    return done;
  }

  // --- the rest of the protocol -----------------------------------------------------------

  /** A page of messages, newest first (`before`: an exclusive seq). */
  history(channel: string, opts: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
    return this.request('history', { channel, before: opts.before, limit: opts.limit });
  }

  /** Every stored message, newest first, page by page. */
  async *messages(channel: string, pageSize = 50): AsyncGenerator<Message> {
    let before: number | undefined;
    for (;;) {
      const page = await this.history(channel, { before, limit: pageSize });
      for (const m of page.messages) yield m;
      if (!page.has_more || page.messages.length === 0) return;
      before = Math.min(...page.messages.map((m) => m.seq));
    }
  }

  /** Says "typing" (at most once per half the server's typing TTL per channel). */
  typing(channel: string): void {
    const ttl = this.helloFrame?.limits.typing_ttl_ms ?? 5000;
    const last = this.typingSent.get(channel) ?? 0;
    if (Date.now() - last < ttl / 2 || this.connState !== 'open') return;
    this.typingSent.set(channel, Date.now());
    this.request('typing', { channel }).catch(() => undefined);
  }

  /** Sets this user's status in the presence channels followed (`online`, `away`, `dnd`). */
  setStatus(status: 'online' | 'away' | 'dnd', text?: string): Promise<ResultOf<'set_status'>> {
    return this.request('set_status', text === undefined ? { status } : { status, text });
  }

  /** Who is in a presence channel now. */
  async presence(channel: string): Promise<PresenceEntry[]> {
    return (await this.request('presence_list', { channel })).presence;
  }

  react(channel: string, messageId: number, emoji: string, add = true) {
    return this.request(add ? 'reaction_add' : 'reaction_remove', { channel, message_id: messageId, emoji });
  }

  editMessage(channel: string, messageId: number, text: string) {
    return this.request('message_edit', { channel, message_id: messageId, text });
  }

  deleteMessage(channel: string, messageId: number) {
    return this.request('message_delete', { channel, message_id: messageId });
  }

  // --- listeners --------------------------------------------------------------------------

  /**
   * Listens: connection events (`state`, `hello`, `disconnect`, `error`, `reset`, `gap`,
   * `synced`), the protocol's event kinds (`message`, `presence`, `typing`, `reaction`…),
   * their familiar names (`new_message`, `presence_update`, `message_updated`…), and any
   * other name as a custom event (`data_update`). Returns a function that stops listening.
   */
  on<N extends EventName>(name: N, handler: Handler<N>): () => void {
    return this.emitter.on(resolveName(name), handler as (arg: never) => void);
  }

  /** Listens to a custom event by name, even one named like a built-in kind. */
  onCustom(event: string, handler: (data: unknown, frame: EventFrame) => void): () => void {
    return this.emitter.on(`custom:${event}`, handler as unknown as (arg: never) => void);
  }
}

export type { ClientEvents };
