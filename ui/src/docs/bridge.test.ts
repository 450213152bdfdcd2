import { describe, expect, it, vi } from 'vitest';
import { mockIPC } from '@tauri-apps/api/mocks';
import type { Channel } from '@tauri-apps/api/core';
import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { DocBridge, openBridge, REMOTE } from './bridge';
import type { DocPush } from '../lib/api';
import { userColor } from './color';

interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

/** A fake replica: open_doc answers `initial`'s state; every call is recorded. */
function fakeReplica(initial: Y.Doc, opts: { slowUpdates?: boolean; failUpdates?: number } = {}) {
  const calls: Call[] = [];
  let push: ((p: DocPush) => void) | null = null;
  let release: (() => void)[] = [];
  let failures = opts.failUpdates ?? 0;
  mockIPC(async (cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    switch (cmd) {
      case 'open_doc': {
        const channel = a.onPush as Channel<DocPush>;
        push = (p) => channel.onmessage(p);
        return Array.from(Y.encodeStateAsUpdate(initial));
      }
      case 'doc_update':
        if (failures > 0) {
          failures--;
          throw { code: 'storage', message: 'disk full' };
        }
        if (opts.slowUpdates) await new Promise<void>((r) => release.push(r));
        return null;
      default:
        return null;
    }
  });
  return {
    calls,
    push: (p: DocPush) => push!(p),
    updates: () => calls.filter((c) => c.cmd === 'doc_update').map((c) => new Uint8Array(c.args.update as number[])),
    awareness: () =>
      calls.filter((c) => c.cmd === 'doc_awareness').map((c) => new Uint8Array(c.args.update as number[])),
    releaseAll: () => {
      const r = release;
      release = [];
      r.forEach((f) => f());
    },
  };
}

const alice = { name: 'alice', color: userColor('alice') };

function textOf(doc: Y.Doc): string {
  return doc.getText('t').toString();
}

describe('DocBridge', () => {
  it('loads the state answered by open_doc', async () => {
    const server = new Y.Doc();
    server.getText('t').insert(0, 'hello world');
    server.getXmlFragment('default').insert(0, [new Y.XmlElement('paragraph')]);
    const replica = fakeReplica(server);
    const bridge = await openBridge('notes', alice);
    expect(replica.calls[0]).toMatchObject({ cmd: 'open_doc', args: { name: 'notes' } });
    expect(textOf(bridge.doc)).toBe('hello world');
    expect(bridge.fragment.length).toBe(1);
    // Loading is not an edit: nothing goes back.
    await bridge.flush();
    expect(replica.updates()).toHaveLength(0);
    await bridge.close();
  });

  it('sends local edits as doc_update that reproduce the text elsewhere', async () => {
    const server = new Y.Doc();
    server.getText('t').insert(0, 'abc');
    const replica = fakeReplica(server);
    const bridge = await openBridge('notes', alice);
    bridge.doc.getText('t').insert(3, 'def');
    bridge.doc.getText('t').delete(0, 1);
    await bridge.flush();
    const updates = replica.updates();
    expect(updates.length).toBeGreaterThan(0);
    for (const u of updates) Y.applyUpdate(server, u);
    expect(textOf(server)).toBe('bcdef');
    await bridge.close();
  });

  it('sends one call at a time, in order, merging what was typed meanwhile', async () => {
    const server = new Y.Doc();
    const replica = fakeReplica(server, { slowUpdates: true });
    const bridge = await openBridge('notes', alice);
    const text = bridge.doc.getText('t');
    text.insert(0, 'a'); // sent at once, left hanging
    await Promise.resolve();
    text.insert(1, 'b');
    text.insert(2, 'c');
    text.insert(3, 'd');
    await vi.waitFor(() => expect(replica.updates()).toHaveLength(1));
    replica.releaseAll();
    await vi.waitFor(() => expect(replica.updates()).toHaveLength(2));
    replica.releaseAll();
    await bridge.flush();
    expect(replica.updates()).toHaveLength(2);
    const [first, second] = replica.updates();
    const fresh = new Y.Doc();
    Y.applyUpdate(fresh, first);
    expect(textOf(fresh)).toBe('a');
    Y.applyUpdate(fresh, second);
    expect(textOf(fresh)).toBe('abcd');
    await bridge.close();
  });

  it('applies remote updates without echoing them back', async () => {
    const server = new Y.Doc();
    server.getText('t').insert(0, 'one');
    const replica = fakeReplica(server);
    const bridge = await openBridge('notes', alice);
    const origins: unknown[] = [];
    bridge.doc.on('update', (_u: Uint8Array, origin: unknown) => origins.push(origin));

    const before = Y.encodeStateVector(server);
    server.getText('t').insert(3, ' two');
    replica.push({ kind: 'update', update: Array.from(Y.encodeStateAsUpdate(server, before)) });
    expect(textOf(bridge.doc)).toBe('one two');
    expect(origins).toEqual([REMOTE]);
    await bridge.flush();
    expect(replica.updates()).toHaveLength(0);
    await bridge.close();
  });

  it('reports the connection from DocPush connected', async () => {
    const replica = fakeReplica(new Y.Doc());
    const bridge = await openBridge('notes', alice);
    const seen: boolean[] = [];
    bridge.onConnected((c) => seen.push(c));
    replica.push({ kind: 'connected', connected: true });
    replica.push({ kind: 'connected', connected: false });
    expect(seen).toEqual([false, true, false]);
    expect(bridge.connected).toBe(false);
    await bridge.close();
  });

  it('stops for good when the document is deleted: nothing is sent after that', async () => {
    const replica = fakeReplica(new Y.Doc());
    const bridge = await openBridge('notes', alice);
    const gone: string[] = [];
    bridge.onGone((reason) => gone.push(reason));
    replica.push({ kind: 'connected', connected: true });
    replica.push({ kind: 'gone', reason: 'deleted' });
    expect(gone).toEqual(['deleted']);
    expect(bridge.gone).toBe('deleted');
    expect(bridge.connected).toBe(false);
    bridge.doc.getText('t').insert(0, 'typed after the delete');
    await bridge.flush();
    expect(replica.updates()).toHaveLength(0);
    await bridge.close();
  });

  it('reports a rename', async () => {
    const replica = fakeReplica(new Y.Doc());
    const bridge = await openBridge('notes', alice);
    const names: string[] = [];
    bridge.onRenamed((name) => names.push(name));
    replica.push({ kind: 'renamed', name: 'roadmap' });
    expect(names).toEqual(['roadmap']);
    await bridge.close();
  });

  it('retries a refused update with the whole state', async () => {
    const server = new Y.Doc();
    const replica = fakeReplica(server, { failUpdates: 1 });
    const bridge = await openBridge('notes', alice, { retryMs: 5 });
    const errors: (string | null)[] = [];
    bridge.onError((e) => errors.push(e));
    bridge.doc.getText('t').insert(0, 'kept');
    await bridge.flush();
    expect(errors).toEqual(['disk full', null]);
    const updates = replica.updates();
    expect(updates).toHaveLength(2);
    Y.applyUpdate(server, updates[1]);
    expect(textOf(server)).toBe('kept');
    await bridge.close();
  });

  it('round-trips awareness: ours goes out with our user, theirs comes in', async () => {
    const replica = fakeReplica(new Y.Doc());
    const bridge = await openBridge('notes', alice, { awarenessThrottleMs: 0 });
    // Sent once on open, with the user.
    await vi.waitFor(() => expect(replica.awareness().length).toBeGreaterThan(0));
    const otherDoc = new Y.Doc();
    const other = new Awareness(otherDoc);
    applyAwarenessUpdate(other, replica.awareness()[0], 'test');
    expect(other.getStates().get(bridge.doc.clientID)).toEqual({ user: alice });

    // A change (the editor's cursor) is sent too.
    bridge.awareness.setLocalStateField('cursor', { anchor: 1, head: 2 });
    await vi.waitFor(() => {
      const all = replica.awareness();
      applyAwarenessUpdate(other, all[all.length - 1], 'test');
      expect(other.getStates().get(bridge.doc.clientID)).toMatchObject({ cursor: { anchor: 1, head: 2 } });
    });

    // Someone else's state arrives through DocPush awareness, without being sent back.
    const sentBefore = replica.awareness().length;
    other.setLocalState({ user: { name: 'bob', color: '#123456' } });
    replica.push({ kind: 'awareness', update: Array.from(encodeAwarenessUpdate(other, [otherDoc.clientID])) });
    expect(bridge.awareness.getStates().get(otherDoc.clientID)).toEqual({
      user: { name: 'bob', color: '#123456' },
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(replica.awareness()).toHaveLength(sentBefore);
    other.destroy();
    await bridge.close();
  });

  it('throttles awareness sends', async () => {
    const replica = fakeReplica(new Y.Doc());
    const bridge = await openBridge('notes', alice, { awarenessThrottleMs: 200 });
    await vi.waitFor(() => expect(replica.awareness()).toHaveLength(1));
    for (let i = 0; i < 20; i++) bridge.awareness.setLocalStateField('cursor', { i });
    await new Promise((r) => setTimeout(r, 50));
    expect(replica.awareness()).toHaveLength(1);
    await vi.waitFor(() => expect(replica.awareness()).toHaveLength(2), { timeout: 1000 });
    // The one sent carries the last state.
    const other = new Awareness(new Y.Doc());
    applyAwarenessUpdate(other, replica.awareness()[1], 'test');
    expect(other.getStates().get(bridge.doc.clientID)).toMatchObject({ cursor: { i: 19 } });
    other.destroy();
    await bridge.close();
  });

  it('close during open_doc waits for it, then closes the replica', async () => {
    const calls: string[] = [];
    let answer: (v: number[]) => void = () => {};
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === 'open_doc') return new Promise<number[]>((r) => (answer = r));
      return null;
    });
    const bridge = new DocBridge('notes', alice);
    const opening = bridge.open();
    const closing = bridge.close();
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual(['open_doc']);
    answer(Array.from(Y.encodeStateAsUpdate(new Y.Doc())));
    await opening;
    await closing;
    expect(calls[calls.length - 1]).toBe('close_doc');
    expect(calls).not.toContain('doc_update');
  });

  it('close sends the last edits, a null awareness, then close_doc', async () => {
    const replica = fakeReplica(new Y.Doc());
    const bridge = await openBridge('notes', alice, { awarenessThrottleMs: 0 });
    bridge.doc.getText('t').insert(0, 'last words');
    await bridge.close();
    const cmds = replica.calls.map((c) => c.cmd);
    expect(cmds[cmds.length - 1]).toBe('close_doc');
    expect(replica.calls[cmds.length - 1].args).toEqual({ name: 'notes' });
    expect(cmds.indexOf('doc_update')).toBeLessThan(cmds.lastIndexOf('close_doc'));
    // The last awareness says we are gone.
    const other = new Awareness(new Y.Doc());
    for (const u of replica.awareness()) applyAwarenessUpdate(other, u, 'test');
    expect(other.getStates().has(bridge.doc.clientID)).toBe(false);
    other.destroy();
    // Pushes after close are ignored, and the listeners are gone.
    expect(() => replica.push({ kind: 'connected', connected: true })).not.toThrow();
    expect(bridge.closed).toBe(true);
  });
});
