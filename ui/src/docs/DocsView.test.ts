import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, cleanup } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import type { Channel } from '@tauri-apps/api/core';
import { get } from 'svelte/store';
import * as Y from 'yjs';
import type { Editor } from '@tiptap/core';
import DocsView from './DocsView.svelte';
import { nav, resetNav } from '../lib/nav';
import { emitAppEvent } from '../lib/events';
import type { Comment, DocContent, DocInfo, DocPush, OutboxEntry, VersionInfo } from '../lib/api';

const alice = { id: 1, name: 'alice', display_name: 'Alice', avatar: null };

function info(name: string, title: string | null, id: number): DocInfo {
  return {
    id,
    name,
    title,
    channel: null,
    comments_channel: `doc#${id}`,
    default_role: 'editor',
    role: 'editor',
    created_by: alice,
    created_at: '2026-01-01T00:00:00.000Z',
  };
}

interface Backend {
  calls: { cmd: string; args: Record<string, unknown> }[];
  docs: DocInfo[];
  push: (p: DocPush) => void;
  /** The server's copy: every doc_update applied. */
  server: Y.Doc;
  /** Saved versions, newest first, with their state. */
  versions: { info: VersionInfo; update: string }[];
}

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (const x of bytes) bin += String.fromCharCode(x);
  return btoa(bin);
}

function backend(): Backend {
  const b: Backend = {
    calls: [],
    docs: [info('design', 'Design notes', 1), info('roadmap', null, 2)],
    push: () => {},
    server: new Y.Doc(),
    versions: [],
  };
  let nextLocal = 100;
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    b.calls.push({ cmd, args: a });
    switch (cmd) {
      case 'session_status':
        return { workspace: { server: 'http://x', hosted: false }, user: alice, keyring: { state: 'available' }, connection: null };
      case 'list_docs':
        return b.docs;
      case 'create_doc': {
        const d = info(a.name as string, a.title as string | null, b.docs.length + 1);
        b.docs = [...b.docs, d];
        return d;
      }
      case 'open_doc': {
        const channel = a.onPush as Channel<DocPush>;
        b.push = (p) => channel.onmessage(p);
        const seed = new Y.Doc();
        return Array.from(Y.encodeStateAsUpdate(seed));
      }
      case 'rename_doc': {
        const old = b.docs.find((d) => d.name === a.name)!;
        const d = { ...old, name: (a.newName as string | null) ?? old.name, title: (a.title as string | null) ?? old.title };
        b.docs = b.docs.map((x) => (x.name === a.name ? d : x));
        return d;
      }
      case 'delete_doc':
        if (a.name === 'roadmap') throw { code: 'forbidden', message: 'only a manager can delete this document' };
        b.docs = b.docs.filter((d) => d.name !== a.name);
        return null;
      case 'doc_update':
        Y.applyUpdate(b.server, Uint8Array.from(a.update as number[]));
        return null;
      case 'doc_versions':
        return b.versions.map((v) => v.info);
      case 'save_doc_version': {
        const v: VersionInfo = {
          id: b.versions.length + 1,
          doc: a.name as string,
          name: a.version as string,
          created_by: alice,
          created_at: new Date().toISOString(),
          size: Y.encodeStateAsUpdate(b.server).length,
        };
        b.versions = [{ info: v, update: base64(Y.encodeStateAsUpdate(b.server)) }, ...b.versions];
        return v;
      }
      case 'doc_version': {
        const v = b.versions.find((x) => x.info.id === a.id)!;
        const content: DocContent = { doc: a.name as string, version: v.info, update: v.update, text: {}, truncated: false };
        return content;
      }
      case 'list_comments':
        return [];
      case 'outbox':
        return [];
      case 'add_comment': {
        const entry: OutboxEntry = {
          local_id: nextLocal++,
          kind: 'comment',
          target: a.doc as string,
          body: JSON.stringify({ body: a.body, anchor: a.anchor, quote: a.quote, parent: a.parent, client_id: 'c' }),
          client_id: 'c',
          created_at: Date.now(),
          state: 'pending',
          error_code: null,
          error: null,
          attempts: 0,
        };
        return entry;
      }
      default:
        return null;
    }
  });
  return b;
}

function pmEditor(): Editor {
  const dom = document.querySelector('.ProseMirror') as HTMLElement & { editor?: Editor };
  expect(dom?.editor).toBeTruthy();
  return dom.editor!;
}

beforeEach(() => resetNav());
afterEach(() => cleanup());

describe('DocsView', () => {
  it('lists the documents', async () => {
    backend();
    render(DocsView);
    expect(screen.getByTestId('docs-view')).toBeTruthy();
    await waitFor(() => expect(document.querySelectorAll('[data-testid=doc-item]')).toHaveLength(2));
    const design = document.querySelector('[data-testid=doc-item][data-doc="design"]')!;
    expect(design.textContent).toContain('Design notes');
    expect(document.querySelector('[data-testid=doc-item][data-doc="roadmap"]')!.textContent).toContain('roadmap');
  });

  it('creates a document and opens it', async () => {
    const b = backend();
    render(DocsView);
    await waitFor(() => expect(document.querySelectorAll('[data-testid=doc-item]')).toHaveLength(2));
    await fireEvent.click(screen.getByTestId('new-doc'));
    const nameInput = document.querySelector('#new-doc-name') as HTMLInputElement;
    const titleInput = document.querySelector('#new-doc-title') as HTMLInputElement;
    // A bad name is refused here.
    await fireEvent.input(nameInput, { target: { value: 'with space' } });
    await fireEvent.click(screen.getByTestId('create-doc'));
    expect(await screen.findByRole('alert')).toBeTruthy();
    expect(b.calls.some((c) => c.cmd === 'create_doc')).toBe(false);

    await fireEvent.input(nameInput, { target: { value: 'minutes' } });
    await fireEvent.input(titleInput, { target: { value: 'Weekly minutes' } });
    await fireEvent.click(screen.getByTestId('create-doc'));
    await waitFor(() => expect(b.calls.find((c) => c.cmd === 'create_doc')?.args).toEqual({
      name: 'minutes',
      title: 'Weekly minutes',
      channel: null,
    }));
    await waitFor(() => expect(document.querySelector('[data-testid=doc-item][data-doc="minutes"]')).toBeTruthy());
    expect(get(nav).doc).toBe('minutes');
    await waitFor(() => expect(screen.getByTestId('doc-title').textContent).toBe('Weekly minutes'));
    await waitFor(() => expect(document.querySelector('.ProseMirror')).toBeTruthy());
    expect(b.calls.find((c) => c.cmd === 'open_doc')?.args.name).toBe('minutes');

    const sync = screen.getByTestId('doc-sync-state');
    expect(sync.dataset.connected).toBe('false');
    b.push({ kind: 'connected', connected: true });
    await waitFor(() => expect(sync.dataset.connected).toBe('true'));
  });

  it('opens the form when nav.newDoc is set (Ctrl+N)', async () => {
    backend();
    render(DocsView);
    expect(document.querySelector('#new-doc-name')).toBeNull();
    nav.update((n) => ({ ...n, view: 'docs', newDoc: true }));
    await waitFor(() => expect(document.querySelector('#new-doc-name')).toBeTruthy());
    expect(get(nav).newDoc).toBe(false);
  });

  it('renames the open document (title and name) and reopens it under the new name', async () => {
    const b = backend();
    nav.update((n) => ({ ...n, view: 'docs', doc: 'design' }));
    render(DocsView);
    await waitFor(() => expect(screen.getByTestId('doc-title').textContent).toBe('Design notes'));
    await fireEvent.click(screen.getByTestId('rename-doc'));
    await fireEvent.input(document.querySelector('#rename-doc-title')!, { target: { value: 'Design' } });
    await fireEvent.input(document.querySelector('#rename-doc-name')!, { target: { value: 'design-v2' } });
    await fireEvent.click(screen.getByTestId('save-rename'));
    await waitFor(() =>
      expect(b.calls.find((c) => c.cmd === 'rename_doc')?.args).toEqual({ name: 'design', newName: 'design-v2', title: 'Design' }),
    );
    await waitFor(() => expect(get(nav).doc).toBe('design-v2'));
    await waitFor(() => expect(screen.getByTestId('doc-title').textContent).toBe('Design'));
    expect(document.querySelector('[data-testid=doc-item][data-doc="design-v2"]')).toBeTruthy();
    expect(document.querySelector('[data-testid=doc-item][data-doc="design"]')).toBeNull();
    await waitFor(() => expect(b.calls.some((c) => c.cmd === 'close_doc' && c.args.name === 'design')).toBe(true));
    await waitFor(() => expect(b.calls.some((c) => c.cmd === 'open_doc' && c.args.name === 'design-v2')).toBe(true));
  });

  it('deletes the open document after a confirmation, or says why not', async () => {
    backend();
    nav.update((n) => ({ ...n, view: 'docs', doc: 'design' }));
    render(DocsView);
    await waitFor(() => expect(screen.getByTestId('doc-title').textContent).toBe('Design notes'));
    await fireEvent.click(screen.getByTestId('delete-doc'));
    await fireEvent.click(screen.getByTestId('confirm-delete-doc'));
    await waitFor(() => expect(get(nav).doc).toBeNull());
    expect(document.querySelector('[data-testid=doc-item][data-doc="design"]')).toBeNull();
    expect(document.querySelector('[data-testid=doc-item][data-doc="roadmap"]')).toBeTruthy();

    // Not a manager of this one: the server's refusal is shown and the document stays.
    nav.update((n) => ({ ...n, view: 'docs', doc: 'roadmap' }));
    await waitFor(() => expect(screen.getByTestId('delete-doc')).toBeTruthy());
    await fireEvent.click(screen.getByTestId('delete-doc'));
    await fireEvent.click(screen.getByTestId('confirm-delete-doc'));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('only a manager can delete'));
    expect(get(nav).doc).toBe('roadmap');
  });

  it('comments on a selection, shows it pending, then live from events', async () => {
    const b = backend();
    nav.update((n) => ({ ...n, view: 'docs', doc: 'design' }));
    render(DocsView);
    await waitFor(() => expect(document.querySelector('.ProseMirror')).toBeTruthy());
    await waitFor(() => pmEditor());
    const editor = pmEditor();
    editor.commands.setContent('<p>Ship the beta on Monday</p>');
    // Typing goes to the replica.
    await waitFor(() => expect(b.calls.some((c) => c.cmd === 'doc_update')).toBe(true));

    editor.commands.setTextSelection({ from: 10, to: 14 }); // "beta"
    await fireEvent.click(await screen.findByTestId('add-comment'));
    const body = document.querySelector('#comment-body') as HTMLTextAreaElement;
    await fireEvent.input(body, { target: { value: 'Which beta?' } });
    await fireEvent.click(screen.getByTestId('submit-comment'));

    await waitFor(() => expect(b.calls.some((c) => c.cmd === 'add_comment')).toBe(true));
    const call = b.calls.find((c) => c.cmd === 'add_comment')!;
    expect(call.args).toMatchObject({ doc: 'design', body: 'Which beta?', quote: 'beta', parent: null });
    const anchor = call.args.anchor as { start: string; end: string };
    expect(anchor.start).toMatch(/^[A-Za-z0-9+/]+=*$/);

    // Pending until its comment_created event arrives.
    await waitFor(() => expect(document.querySelector('[data-testid=comment][data-pending=true]')).toBeTruthy());
    await waitFor(() => expect(document.querySelector('.ProseMirror .comment-highlight')?.textContent).toBe('beta'));

    const created: Comment = {
      id: 41,
      doc: 'design',
      parent: null,
      anchor,
      quote: 'beta',
      author: alice,
      body: 'Which beta?',
      mentions: [],
      resolved: false,
      resolved_by: null,
      created_at: new Date().toISOString(),
      edited_at: null,
    };
    emitAppEvent({ kind: 'client', event: { kind: 'comment', doc: 'design', event: { kind: 'comment_created', comment: created } } });
    await waitFor(() => expect(document.querySelector('[data-testid=comment][data-comment-id="41"]')).toBeTruthy());
    expect(document.querySelector('[data-testid=comment][data-pending=true]')).toBeNull();
    const el = document.querySelector('[data-testid=comment][data-comment-id="41"]') as HTMLElement;
    expect(el.dataset.resolved).toBe('false');
    expect(el.querySelector('[data-testid=comment-body]')!.textContent).toBe('Which beta?');

    // Clicking the thread marks its highlight active.
    await fireEvent.click(el);
    await waitFor(() => expect(document.querySelector('.comment-highlight-active')?.textContent).toBe('beta'));

    // Resolved by someone else: dimmed, and its highlight goes away.
    emitAppEvent({
      kind: 'client',
      event: { kind: 'comment', doc: 'design', event: { kind: 'comment_resolved', comment: { ...created, resolved: true } } },
    });
    await waitFor(() =>
      expect((document.querySelector('[data-comment-id="41"]') as HTMLElement).dataset.resolved).toBe('true'),
    );
    expect(document.querySelector('[data-testid=reopen-comment]')).toBeTruthy();
    await waitFor(() => expect(document.querySelector('.ProseMirror .comment-highlight')).toBeNull());
  });

  it('saves a named version and restores it as a new edit that reaches the replica', async () => {
    const b = backend();
    nav.update((n) => ({ ...n, view: 'docs', doc: 'design' }));
    render(DocsView);
    await waitFor(() => pmEditor());
    const editor = pmEditor();
    editor.commands.setContent('<p>First draft</p>');
    await waitFor(() => expect(b.server.getXmlFragment('default').toString()).toBe('<paragraph>First draft</paragraph>'));

    await fireEvent.click(screen.getByTestId('doc-versions-button'));
    await fireEvent.input(await screen.findByTestId('save-version-name'), { target: { value: 'Draft 1' } });
    await fireEvent.click(screen.getByTestId('save-version'));
    await waitFor(() => expect(document.querySelectorAll('[data-testid=version-row]')).toHaveLength(1));
    await fireEvent.keyDown(screen.getByTestId('versions-panel'), { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('versions-panel')).toBeNull());

    editor.commands.setContent('<p>Rewritten</p><p>entirely</p>');
    await waitFor(() => expect(b.server.getXmlFragment('default').toString()).toContain('Rewritten'));
    const sent = b.calls.filter((c) => c.cmd === 'doc_update').length;

    await fireEvent.click(screen.getByTestId('doc-versions-button'));
    await fireEvent.click(await screen.findByTestId('version-restore'));
    await fireEvent.click(await screen.findByTestId('confirm-restore'));
    // The editor shows the version, and the restore went to the replica like any edit.
    await waitFor(() => expect(editor.getText()).toBe('First draft'));
    await waitFor(() => expect(b.calls.filter((c) => c.cmd === 'doc_update').length).toBeGreaterThan(sent));
    await waitFor(() => expect(b.server.getXmlFragment('default').toString()).toBe('<paragraph>First draft</paragraph>'));
  });
});
