import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import * as Y from 'yjs';
import type { DocContent, DocInfo, VersionInfo } from '../lib/api';
import DocHeader from './DocHeader.svelte';
import VersionsPanel from './VersionsPanel.svelte';

const alice = { id: 1, name: 'alice', display_name: 'Alice', avatar: null };

function version(id: number, name: string, minutesAgo: number, size = 2048): VersionInfo {
  return {
    id,
    doc: 'design',
    name,
    created_by: alice,
    created_at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    size,
  };
}

/** A document's state (base64) with one paragraph per text, as TipTap stores them. */
function state(...paragraphs: string[]): string {
  const doc = new Y.Doc();
  doc.getXmlFragment('default').insert(
    0,
    paragraphs.map((text) => {
      const p = new Y.XmlElement('paragraph');
      const t = new Y.XmlText();
      t.insert(0, text);
      p.insert(0, [t]);
      return p;
    }),
  );
  let bin = '';
  for (const b of Y.encodeStateAsUpdate(doc)) bin += String.fromCharCode(b);
  return btoa(bin);
}

type Call = { cmd: string; args: Record<string, unknown> };

function backend(contents: Record<number, DocContent> = {}) {
  const calls: Call[] = [];
  // Oldest first, as the server lists them.
  let versions = [version(1, 'First draft', 60 * 30, 512), version(2, 'Sent for review', 5)];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    switch (cmd) {
      case 'doc_versions':
        return versions;
      case 'save_doc_version': {
        if (a.version === 'refused') throw { code: 'forbidden', message: 'editors only' };
        const v = version(3, a.version as string, 0);
        versions = [...versions, v];
        return v;
      }
      case 'doc_version': {
        const c = contents[a.id as number];
        if (!c) throw { code: 'not_found', message: 'no such version' };
        return c;
      }
      default:
        return null;
    }
  });
  return calls;
}

function content(id: number, update: string, text: Record<string, string> = {}): DocContent {
  return { doc: 'design', version: version(id, `v${id}`, 1), update, text, truncated: false };
}

function liveWith(...paragraphs: string[]): Y.Doc {
  const doc = new Y.Doc();
  const bytes = Uint8Array.from(atob(state(...paragraphs)), (c) => c.charCodeAt(0));
  Y.applyUpdate(doc, bytes);
  return doc;
}

const rows = () => [...document.querySelectorAll<HTMLElement>('[data-testid=version-row]')];

describe('VersionsPanel', () => {
  it('lists the versions, newest first, with who, when and size', async () => {
    const calls = backend();
    render(VersionsPanel, { name: 'design', canEdit: true, liveDoc: () => null, onClose: () => {} });
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(calls[0]).toEqual({ cmd: 'doc_versions', args: { name: 'design' } });
    expect(rows().map((r) => r.dataset.versionName)).toEqual(['Sent for review', 'First draft']);
    expect(rows()[0].textContent).toContain('Alice (@alice)');
    expect(rows()[0].textContent).toContain('5 min ago');
    expect(rows()[0].textContent).toContain('2.0 KB');
    expect(rows()[1].textContent).toContain('512 B');
    const dialog = screen.getByRole('dialog', { name: 'Versions' });
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    // The name field has focus first, and a label.
    await waitFor(() => expect(document.activeElement?.id).toBe('save-version-name'));
    expect(screen.getByLabelText('Version name')).toBe(document.activeElement);
  });

  it('saves a version under a name', async () => {
    const calls = backend();
    render(VersionsPanel, { name: 'design', canEdit: true, liveDoc: () => null, onClose: () => {} });
    await waitFor(() => expect(rows()).toHaveLength(2));
    const save = screen.getByTestId('save-version') as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('save-version-name'), { target: { value: '  Approved  ' } });
    expect(save.disabled).toBe(false);
    await fireEvent.click(save);
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(calls.find((c) => c.cmd === 'save_doc_version')?.args).toEqual({ name: 'design', version: 'Approved' });
    expect(rows()[0].dataset.versionName).toBe('Approved');
    expect(screen.getByTestId('versions-status').textContent).toContain('Approved');
    expect((screen.getByTestId('save-version-name') as HTMLInputElement).value).toBe('');

    // A refusal is shown.
    await fireEvent.input(screen.getByTestId('save-version-name'), { target: { value: 'refused' } });
    await fireEvent.click(save);
    expect((await screen.findByRole('alert')).textContent).toContain('Only editors can save versions');
  });

  it('lets viewers and commenters look, not save or restore', async () => {
    const calls = backend({ 2: content(2, state('Hello')) });
    render(VersionsPanel, { name: 'design', canEdit: false, liveDoc: () => new Y.Doc(), onClose: () => {} });
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect((screen.getByTestId('save-version-name') as HTMLInputElement).disabled).toBe(true);
    expect((screen.getByTestId('save-version') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText('Only editors can save versions.')).toBeTruthy();
    expect(screen.queryByTestId('version-restore')).toBeNull();
    await fireEvent.click(rows()[0].querySelector('[data-testid=version-view]')!);
    await waitFor(() => expect(screen.getByTestId('version-preview')).toBeTruthy());
    expect(calls.some((c) => c.cmd === 'save_doc_version')).toBe(false);
  });

  it('shows a version read only, with the editor’s schema', async () => {
    const calls = backend({
      2: content(2, state('Ship the beta', 'on Monday')),
      1: content(1, state(), { notes: 'plain text root' }),
    });
    render(VersionsPanel, { name: 'design', canEdit: true, liveDoc: () => null, onClose: () => {} });
    await waitFor(() => expect(rows()).toHaveLength(2));
    await fireEvent.click(rows()[0].querySelector('[data-testid=version-view]')!);
    const preview = await screen.findByTestId('version-preview');
    expect(preview.dataset.versionId).toBe('2');
    expect(calls.find((c) => c.cmd === 'doc_version')?.args).toEqual({ name: 'design', id: 2 });
    await waitFor(() => expect(preview.querySelectorAll('.ProseMirror p')).toHaveLength(2));
    const pm = preview.querySelector('.ProseMirror') as HTMLElement;
    expect(pm.getAttribute('contenteditable')).toBe('false');
    expect(pm.textContent).toBe('Ship the betaon Monday');
    expect(rows()[0].querySelector('[data-testid=version-view]')!.getAttribute('aria-pressed')).toBe('true');

    // A version without rich text (written by another client): its text instead.
    await fireEvent.click(rows()[1].querySelector('[data-testid=version-view]')!);
    await waitFor(() => expect(screen.getByTestId('version-preview').dataset.versionId).toBe('1'));
    expect(screen.getByTestId('version-text').textContent).toBe('plain text root');
    expect(document.querySelector('[data-testid=version-preview] .ProseMirror')).toBeNull();

    await fireEvent.click(screen.getByTestId('close-version-view'));
    expect(screen.queryByTestId('version-preview')).toBeNull();
  });

  it('restores a version into the live document after a confirmation', async () => {
    const calls = backend({ 1: content(1, state('First draft text')) });
    const live = liveWith('Current text', 'More');
    const updates: unknown[] = [];
    live.on('update', (_u: Uint8Array, origin: unknown) => updates.push(origin));
    render(VersionsPanel, { name: 'design', canEdit: true, liveDoc: () => live, onClose: () => {} });
    await waitFor(() => expect(rows()).toHaveLength(2));
    const restore = rows()[1].querySelector('[data-testid=version-restore]') as HTMLElement;

    // The confirmation takes focus on its safe choice; Escape backs out (the dialog stays).
    await fireEvent.click(restore);
    await waitFor(() => expect(document.activeElement?.getAttribute('data-testid')).toBe('cancel-restore'));
    await fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('confirm-restore')).toBeNull());
    expect(screen.getByTestId('versions-panel')).toBeTruthy();
    expect(updates).toHaveLength(0);

    await fireEvent.click(restore);
    await fireEvent.click(await screen.findByTestId('confirm-restore'));
    await waitFor(() =>
      expect(live.getXmlFragment('default').toString()).toBe('<paragraph>First draft text</paragraph>'),
    );
    expect(calls.find((c) => c.cmd === 'doc_version')?.args).toEqual({ name: 'design', id: 1 });
    expect(updates).toEqual(['restore-version']);
    expect(screen.getByTestId('versions-status').textContent).toContain('Restored “First draft” as a new edit');
    expect(screen.queryByTestId('confirm-restore')).toBeNull();
  });

  it('says why a version could not be opened or restored', async () => {
    backend({});
    render(VersionsPanel, { name: 'design', canEdit: true, liveDoc: () => null, onClose: () => {} });
    await waitFor(() => expect(rows()).toHaveLength(2));
    await fireEvent.click(rows()[0].querySelector('[data-testid=version-view]')!);
    expect((await screen.findByTestId('versions-error')).textContent).toContain('no such version');
    // The document is not open yet: nothing to restore into.
    await fireEvent.click(rows()[0].querySelector('[data-testid=version-restore]')!);
    await fireEvent.click(await screen.findByTestId('confirm-restore'));
    await waitFor(() => expect(screen.getByTestId('versions-error').textContent).toContain('not open yet'));
  });

  it('opens from the document header; Escape closes it and focus goes back', async () => {
    backend();
    const info: DocInfo = {
      id: 1,
      name: 'design',
      title: 'Design notes',
      channel: null,
      comments_channel: 'doc#1',
      default_role: 'editor',
      role: 'editor',
      created_by: alice,
      created_at: '2026-01-01T00:00:00.000Z',
    };
    render(DocHeader, { name: 'design', info, others: [], connected: true, onrenamed: () => {}, ondeleted: () => {} });
    const button = screen.getByTestId('doc-versions-button');
    button.focus();
    await fireEvent.click(button);
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(button.getAttribute('aria-expanded')).toBe('true');
    await waitFor(() => expect(document.activeElement?.id).toBe('save-version-name'));
    await fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('versions-panel')).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(button));

    // The close button too, and the Share dialog the same way.
    await fireEvent.click(button);
    await fireEvent.click(await screen.findByTestId('close-versions'));
    await waitFor(() => expect(document.activeElement).toBe(button));
    const share = screen.getByTestId('doc-share-button');
    await fireEvent.click(share);
    expect(await screen.findByRole('dialog', { name: 'Share “Design notes”' })).toBeTruthy();
    await fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('share-panel')).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(share));
  });
});
