import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import type { DocRole, DocRoleEntry, UserRef } from '../lib/api';
import SharePanel from './SharePanel.svelte';

const user = (id: number, name: string, display: string | null = null): UserRef => ({
  id,
  name,
  display_name: display,
  avatar: null,
});
const bob = user(2, 'bob', 'Bob');
const carol = user(3, 'carol');
const known = [bob, carol, user(4, 'dave')];

type Call = { cmd: string; args: Record<string, unknown> };

function backend(options: { forbidden?: boolean } = {}) {
  const calls: Call[] = [];
  let roles: DocRoleEntry[] = [{ user: bob, role: 'editor' }];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    switch (cmd) {
      case 'doc_roles':
        if (options.forbidden) throw { code: 'forbidden', message: 'only managers see the roles' };
        return roles;
      case 'set_doc_role': {
        const who = known.find((u) => u.name === a.user);
        if (!who) throw { code: 'user_not_found', message: 'no such user' };
        if (who.name === 'carol' && a.role === 'viewer') throw { code: 'internal', message: 'the server broke' };
        roles = roles.filter((r) => r.user.id !== who.id);
        if (a.role) roles = [...roles, { user: who, role: a.role as DocRole }];
        return null;
      }
      default:
        return null;
    }
  });
  return calls;
}

const rows = () => [...document.querySelectorAll<HTMLElement>('[data-testid=share-row]')];
const props = { name: 'design', title: 'Design notes', defaultRole: 'commenter' as DocRole, onClose: () => {} };

describe('SharePanel', () => {
  it('lists the people with their own roles and everyone’s role', async () => {
    const calls = backend();
    render(SharePanel, props);
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(calls[0]).toEqual({ cmd: 'doc_roles', args: { name: 'design' } });
    expect(rows()[0].dataset.user).toBe('bob');
    expect(rows()[0].textContent).toContain('Bob (@bob)');
    expect((rows()[0].querySelector('[data-testid=share-row-role]') as HTMLSelectElement).value).toBe('editor');
    expect(screen.getByLabelText('Role of Bob (@bob)')).toBe(rows()[0].querySelector('select'));
    const everyone = screen.getByTestId('share-default');
    expect(everyone.dataset.role).toBe('commenter');
    expect(everyone.textContent).toContain('Everyone with access: commenter');
    expect(screen.getByRole('dialog', { name: 'Share “Design notes”' }).getAttribute('aria-modal')).toBe('true');
    expect(screen.getByLabelText('Person (user name)')).toBe(screen.getByTestId('share-user'));
    expect(screen.getByLabelText('Role')).toBe(screen.getByTestId('share-role'));
  });

  it('adds a person with a role', async () => {
    const calls = backend();
    render(SharePanel, props);
    await waitFor(() => expect(rows()).toHaveLength(1));
    await fireEvent.input(screen.getByTestId('share-user'), { target: { value: ' @carol ' } });
    await fireEvent.change(screen.getByTestId('share-role'), { target: { value: 'commenter' } });
    await fireEvent.click(screen.getByTestId('share-add'));
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(calls.find((c) => c.cmd === 'set_doc_role')?.args).toEqual({ name: 'design', user: 'carol', role: 'commenter' });
    expect(rows()[1].dataset.user).toBe('carol');
    expect(rows()[1].dataset.role).toBe('commenter');
    await waitFor(() => expect((screen.getByTestId('share-user') as HTMLInputElement).value).toBe(''));
    expect(screen.getByTestId('share-status').textContent).toContain('Shared with carol as commenter');
  });

  it('says when there is no such user, and asks for a name', async () => {
    const calls = backend();
    render(SharePanel, props);
    await waitFor(() => expect(rows()).toHaveLength(1));
    await fireEvent.click(screen.getByTestId('share-add'));
    expect((await screen.findByRole('alert')).textContent).toContain('Type the user name');
    expect(calls.some((c) => c.cmd === 'set_doc_role')).toBe(false);
    await fireEvent.input(screen.getByTestId('share-user'), { target: { value: 'zed' } });
    await fireEvent.click(screen.getByTestId('share-add'));
    await waitFor(() => expect(screen.getByTestId('share-error').textContent).toBe('There is no user named “zed”.'));
    expect((screen.getByTestId('share-user') as HTMLInputElement).value).toBe('zed');
  });

  it('changes and removes a person’s role', async () => {
    const calls = backend();
    render(SharePanel, props);
    await waitFor(() => expect(rows()).toHaveLength(1));
    await fireEvent.change(rows()[0].querySelector('[data-testid=share-row-role]')!, { target: { value: 'viewer' } });
    await waitFor(() => expect(rows()[0].dataset.role).toBe('viewer'));
    expect(calls.filter((c) => c.cmd === 'set_doc_role').map((c) => c.args)).toEqual([
      { name: 'design', user: 'bob', role: 'viewer' },
    ]);
    await fireEvent.click(rows()[0].querySelector('[data-testid=share-remove]')!);
    await waitFor(() => expect(rows()).toHaveLength(0));
    expect(calls.filter((c) => c.cmd === 'set_doc_role').at(-1)?.args).toEqual({ name: 'design', user: 'bob', role: null });
    expect(screen.getByTestId('share-empty')).toBeTruthy();
  });

  it('puts the select back when a change is refused', async () => {
    backend();
    render(SharePanel, props);
    await waitFor(() => expect(rows()).toHaveLength(1));
    await fireEvent.input(screen.getByTestId('share-user'), { target: { value: 'carol' } });
    await fireEvent.click(screen.getByTestId('share-add'));
    await waitFor(() => expect(rows()).toHaveLength(2));
    const select = rows()[1].querySelector('[data-testid=share-row-role]') as HTMLSelectElement;
    await fireEvent.change(select, { target: { value: 'viewer' } });
    await waitFor(() => expect(screen.getByTestId('share-error').textContent).toContain('the server broke'));
    expect(select.value).toBe('editor');
    expect(rows()[1].dataset.role).toBe('editor');
  });

  it('tells those who may not share so, instead of the form', async () => {
    backend({ forbidden: true });
    render(SharePanel, props);
    expect((await screen.findByTestId('share-forbidden')).textContent).toBe(
      "Only the document's creator and admins can share it.",
    );
    expect(screen.queryByTestId('share-user')).toBeNull();
    expect(screen.queryByTestId('share-add')).toBeNull();
    expect(screen.queryByRole('alert')).toBeNull();
    // What everyone has is still shown.
    expect(screen.getByTestId('share-default').textContent).toContain('commenter');
  });

  it('closes on Escape', async () => {
    backend();
    let closed = false;
    render(SharePanel, { ...props, onClose: () => (closed = true) });
    await waitFor(() => expect(rows()).toHaveLength(1));
    await waitFor(() => expect(document.activeElement?.getAttribute('data-testid')).toBe('close-share'));
    await fireEvent.keyDown(screen.getByTestId('share-user'), { key: 'Escape' });
    expect(closed).toBe(true);
  });
});
