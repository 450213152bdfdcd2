// An automated accessibility audit (axe-core) of the main screens, rendered in jsdom: first
// run (sign in / host), the chat view with messages, the channel topic's editor, the documents
// list, a document's versions and sharing dialogs, settings, the emoji picker open, the
// shortcuts help.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import axe from 'axe-core';
import { afterEach, describe, expect, it } from 'vitest';
import App from './App.svelte';
import FirstRun from './components/FirstRun.svelte';
import * as Y from 'yjs';
import DocsView from './docs/DocsView.svelte';
import SharePanel from './docs/SharePanel.svelte';
import VersionsPanel from './docs/VersionsPanel.svelte';
import type { DocInfo, SessionStatus, VersionInfo } from './lib/api';
import { resetNav } from './lib/nav';
import { chat } from './lib/stores/chat.svelte';
import { ui } from './lib/stores/ui.svelte';
import { fakeApp } from './test/fakeApp';
import { alice, message } from './test/fixtures';

afterEach(() => {
  chat.clear();
  resetNav();
  ui.settings = false;
  ui.help = false;
});

const OPTIONS: axe.RunOptions = {
  rules: {
    // jsdom does no layout and paints nothing: colours and sizes cannot be computed there.
    'color-contrast': { enabled: false },
    'target-size': { enabled: false },
    // A component rendered alone is not a whole page (no <main>, no <h1> of its own, content
    // outside landmarks): these are checked on the whole app's screens only.
  },
  resultTypes: ['violations'],
};

const PAGE_RULES_OFF: axe.RunOptions['rules'] = {
  region: { enabled: false },
  'landmark-one-main': { enabled: false },
  'page-has-heading-one': { enabled: false },
};

async function audit(part = false): Promise<string[]> {
  const result = await axe.run(document.body, {
    ...OPTIONS,
    rules: { ...OPTIONS.rules, ...(part ? PAGE_RULES_OFF : {}) },
  });
  return result.violations.map(
    (v) => `${v.id}: ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join('\n')}`,
  );
}

const fresh: SessionStatus = { workspace: null, user: null, keyring: { state: 'available' }, connection: null };

function doc(name: string, title: string | null, id: number): DocInfo {
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

describe('accessibility audit (axe-core)', () => {
  it('first run: choosing, signing in, hosting', async () => {
    mockIPC(() => null);
    render(FirstRun, { status: fresh });
    expect(await audit(true)).toEqual([]);
    await fireEvent.click(screen.getByTestId('host-workspace'));
    expect(await audit(true)).toEqual([]);
  });

  it('the chat view with messages, reactions, a thread link and the New line', async () => {
    const history = [
      message(1, { text: 'welcome, see **this**', reactions: [{ emoji: '👍', count: 2, users: [1, 2] }] }),
      message(2, { thread: { reply_count: 2, last_reply_at: null, participants: [] } as never }),
      message(3, { author: alice, text: 'mine' }),
      message(4, { text: 'new one' }),
    ];
    fakeApp({ history, lastRead: 3, unread: 1 });
    render(App);
    await screen.findByTestId('channel-title');
    await waitFor(() => expect(document.querySelectorAll('[data-testid=message]')).toHaveLength(4));
    expect(await audit()).toEqual([]);
  });

  it('the emoji picker open on a message', async () => {
    fakeApp();
    render(App);
    await screen.findByTestId('channel-title');
    await waitFor(() => expect(document.querySelectorAll('[data-testid=message]')).toHaveLength(3));
    await fireEvent.click(document.querySelectorAll<HTMLElement>('[aria-label="Add reaction"]')[0]);
    await waitFor(() => expect(document.querySelectorAll('[aria-label="Pick a reaction"] button.emoji').length).toBeGreaterThan(10));
    expect(await audit()).toEqual([]);
  });

  it('the channel topic: its button, the editor open, and a refusal', async () => {
    fakeApp();
    render(App);
    await screen.findByTestId('channel-title');
    // No topic yet: "Add a topic".
    await screen.findByTestId('edit-topic');
    expect(await audit()).toEqual([]);
    await fireEvent.click(screen.getByTestId('edit-topic'));
    await screen.findByTestId('topic-input');
    expect(await audit()).toEqual([]);
    await fireEvent.input(screen.getByTestId('topic-input'), { target: { value: 'Ship it' } });
    await fireEvent.keyDown(screen.getByTestId('topic-input'), { key: 'Enter' });
    // A topic: the "Edit topic" button beside it.
    await screen.findByRole('button', { name: 'Edit topic' });
    expect(await audit()).toEqual([]);
    // The server refuses the next change: the field shows why.
    mockIPC((cmd) => {
      if (cmd === 'set_channel_topic') throw { code: 'rate_limited', message: 'too many changes; try again shortly' };
      return cmd === 'outbox' || cmd === 'history' || cmd === 'presence' ? [] : null;
    });
    await fireEvent.click(screen.getByTestId('edit-topic'));
    await fireEvent.input(screen.getByTestId('topic-input'), { target: { value: 'Again' } });
    await fireEvent.click(screen.getByTestId('save-topic'));
    await screen.findByTestId('topic-error');
    expect(await audit()).toEqual([]);
  });

  it('settings and the shortcuts help', async () => {
    fakeApp();
    render(App);
    await screen.findByTestId('channel-title');
    ui.settings = true;
    await screen.findByRole('dialog', { name: /settings/i });
    const found = await axe.run(document.body, OPTIONS);
    expect(found.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
    ui.settings = false;
    ui.help = true;
    await screen.findByRole('dialog', { name: 'Keyboard shortcuts' });
    expect(await audit()).toEqual([]);
  });

  it('the documents list', async () => {
    mockIPC((cmd) => {
      if (cmd === 'list_docs') return [doc('design', 'Design notes', 1), doc('roadmap', null, 2)];
      if (cmd === 'session_status') return { ...fresh, user: alice };
      return cmd === 'outbox' || cmd === 'list_comments' ? [] : null;
    });
    render(DocsView);
    await waitFor(() => expect(screen.getByTestId('docs-view').textContent).toContain('Design notes'));
    expect(await audit(true)).toEqual([]);
  });

  it('a document’s versions: the list, a version open and a restore to confirm', async () => {
    const v = (id: number, name: string): VersionInfo => ({
      id,
      doc: 'design',
      name,
      created_by: alice,
      created_at: '2026-01-01T00:00:00.000Z',
      size: 1200,
    });
    const state = new Y.Doc();
    const p = new Y.XmlElement('paragraph');
    const t = new Y.XmlText();
    t.insert(0, 'Saved text');
    p.insert(0, [t]);
    state.getXmlFragment('default').insert(0, [p]);
    const update = btoa(String.fromCharCode(...Y.encodeStateAsUpdate(state)));
    mockIPC((cmd) => {
      if (cmd === 'doc_versions') return [v(2, 'Sent for review'), v(1, 'First draft')];
      if (cmd === 'doc_version') return { doc: 'design', version: v(2, 'Sent for review'), update, text: {}, truncated: false };
      return null;
    });
    render(VersionsPanel, { name: 'design', canEdit: true, liveDoc: () => new Y.Doc(), onClose: () => {} });
    await waitFor(() => expect(document.querySelectorAll('[data-testid=version-row]')).toHaveLength(2));
    expect(await audit(true)).toEqual([]);
    await fireEvent.click(screen.getAllByTestId('version-view')[0]);
    await waitFor(() => expect(document.querySelector('[data-testid=version-preview] .ProseMirror p')).toBeTruthy());
    await fireEvent.click(screen.getAllByTestId('version-restore')[1]);
    await screen.findByTestId('confirm-restore');
    expect(await audit(true)).toEqual([]);
  });

  it('sharing a document: the people and their roles, or why not', async () => {
    const bob = { id: 2, name: 'bob', display_name: 'Bob', avatar: null };
    let forbidden = false;
    mockIPC((cmd) => {
      if (cmd !== 'doc_roles') return null;
      if (forbidden) throw { code: 'forbidden', message: 'managers only' };
      return [{ user: bob, role: 'editor' }, { user: alice, role: 'viewer' }];
    });
    const shared = render(SharePanel, { name: 'design', title: 'Design notes', defaultRole: 'commenter', onClose: () => {} });
    await waitFor(() => expect(document.querySelectorAll('[data-testid=share-row]')).toHaveLength(2));
    expect(await audit(true)).toEqual([]);
    shared.unmount();
    forbidden = true;
    render(SharePanel, { name: 'design', title: 'Design notes', defaultRole: 'commenter', onClose: () => {} });
    await screen.findByTestId('share-forbidden');
    expect(await audit(true)).toEqual([]);
  });
});
