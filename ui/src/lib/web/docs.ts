// Open documents in the web app: a Y.Doc synced by y-websocket with /docs (docs/protocol.md
// §14), bridged to the UI's own Y.Doc (docs/bridge.ts) the way the desktop's replica is:
// `open` resolves to the whole state once synced, then remote updates, other people's
// awareness and connection changes are pushed; the UI's updates and awareness are applied
// here with a local origin, so they are sent and never echoed back.
import { documentConnection, type ParleyClient } from '@parley/client';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import type { DocInfo, DocPush } from '../bindings';
import { CommandError } from './errors';

/** The origin of what the UI hands over (sent to the server, not pushed back). */
export const LOCAL = Symbol('parley-ui');

interface Open {
  doc: Y.Doc;
  provider: WebsocketProvider;
  ready: boolean;
}

export class WebDocs {
  private readonly open = new Map<string, Open>();

  constructor(
    private readonly client: () => ParleyClient,
    /** What became of a document whose connection was closed for good (4005, 4007). */
    private readonly lookup: (info: DocInfo) => Promise<DocPush | null>,
  ) {}

  async openDoc(info: DocInfo, onPush: (push: DocPush) => void): Promise<Uint8Array<ArrayBuffer>> {
    const name = info.name;
    this.close(name);
    const doc = new Y.Doc();
    const c = documentConnection(this.client(), name, { docId: info.id });
    const provider = new WebsocketProvider(c.serverUrl, c.room, doc, { params: c.params });
    // Only the UI's awareness is announced (its own client id); the provider's stays empty.
    provider.awareness.setLocalState(null);
    const entry: Open = { doc, provider, ready: false };
    this.open.set(name, entry);
    const push = (p: DocPush) => {
      if (this.open.get(name) === entry && entry.ready) onPush(p);
    };
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== LOCAL) push({ kind: 'update', update: Array.from(update) });
    });
    provider.awareness.on(
      'update',
      (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
        if (origin === LOCAL) return;
        const ids = [...change.added, ...change.updated, ...change.removed];
        if (ids.length === 0) return;
        push({ kind: 'awareness', update: Array.from(encodeAwarenessUpdate(provider.awareness, ids)) });
      },
    );
    provider.on('status', (e: { status: string }) => push({ kind: 'connected', connected: e.status === 'connected' }));
    provider.on('connection-close', (e: CloseEvent | null) => {
      const code = e?.code ?? 0;
      if (code !== 4005 && code !== 4007) return;
      void this.lookup(info).then((p) => {
        if (p == null || this.open.get(name) !== entry) return;
        if (p.kind === 'gone' || p.kind === 'renamed') provider.disconnect();
        push(p);
      });
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (provider.synced) return;
        // Not synced in time: resolve with what there is (it fills in when it syncs).
        resolve();
      }, 15_000);
      provider.once('sync', () => {
        clearTimeout(timer);
        resolve();
      });
      provider.on('connection-error', () => {
        if (this.open.get(name) !== entry) {
          clearTimeout(timer);
          reject(new CommandError({ code: 'doc_closed', message: `${name} was closed` }));
        }
      });
    });
    const state = new Uint8Array(Y.encodeStateAsUpdate(doc));
    entry.ready = true;
    onPush({ kind: 'connected', connected: provider.wsconnected });
    return state;
  }

  private get(name: string): Open {
    const entry = this.open.get(name);
    if (entry == null) throw new CommandError({ code: 'doc_not_open', message: `${name} is not open` });
    return entry;
  }

  update(name: string, update: Uint8Array): void {
    Y.applyUpdate(this.get(name).doc, update, LOCAL);
  }

  awareness(name: string, update: Uint8Array): void {
    applyAwarenessUpdate(this.get(name).provider.awareness, update, LOCAL);
  }

  close(name: string): void {
    const entry = this.open.get(name);
    if (entry == null) return;
    this.open.delete(name);
    entry.provider.destroy();
    entry.doc.destroy();
  }

  closeAll(): void {
    for (const name of [...this.open.keys()]) this.close(name);
  }
}
