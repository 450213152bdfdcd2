import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import type { ChannelMember, PresenceEntry, UserRef } from '../lib/api';
import { session } from '../lib/stores/session.svelte';
import MembersPanel from './MembersPanel.svelte';

const user = (id: number, name: string): UserRef => ({ id, name, display_name: null, avatar: null });
const alice = user(1, 'alice');
const bob = user(2, 'bob');
const carol = user(3, 'carol');

function signedInAs(me: UserRef): void {
  session.status = {
    workspace: { server: 'http://127.0.0.1:1', hosted: false },
    user: me,
    keyring: { state: 'available' },
    connection: { state: 'online', user: me },
  };
}

function server(members: ChannelMember[], calls: { cmd: string; args: unknown }[]): void {
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    switch (cmd) {
      case 'channel_members':
        return members;
      case 'list_channels':
        return [];
      default:
        return null;
    }
  });
}

const here = (u: UserRef, status: string, text: string | null = null): PresenceEntry => ({
  user: u,
  status,
  status_text: text,
  sessions: 1,
});

describe('Members panel', () => {
  it('lists every member with role and status, who is here first', async () => {
    signedInAs(bob);
    const calls: { cmd: string; args: unknown }[] = [];
    server(
      [
        { user: alice, role: 'admin' },
        { user: bob, role: 'member' },
        { user: carol, role: 'member' },
      ],
      calls,
    );
    render(MembersPanel, {
      channel: 'team',
      presence: [here(carol, 'away', 'at lunch'), here(bob, 'online')],
      hasPresence: true,
      member: true,
      dm: false,
      onClose: () => {},
    });
    await waitFor(() => expect(screen.getByTestId('member-count').textContent).toBe('3'));
    const rows = screen.getAllByTestId('member');
    expect(rows.map((r) => [r.dataset.user, r.dataset.status])).toEqual([
      ['bob', 'online'],
      ['carol', 'away'],
      ['alice', 'offline'],
    ]);
    expect(rows[1].textContent).toContain('at lunch');
    expect(rows[2].textContent).toContain('admin');
    expect(calls[0]).toEqual({ cmd: 'channel_members', args: { channel: 'team' } });
    // bob is a member, not an admin: he may leave, not delete.
    expect(screen.getByTestId('leave-channel')).toBeTruthy();
    expect(screen.queryByTestId('delete-channel')).toBeNull();
  });

  it('lets a channel admin delete the channel after confirming', async () => {
    signedInAs(alice);
    const calls: { cmd: string; args: unknown }[] = [];
    server([{ user: alice, role: 'admin' }], calls);
    let closed = false;
    render(MembersPanel, { channel: 'team', presence: [], hasPresence: true, member: true, dm: false, onClose: () => (closed = true) });
    const del = await screen.findByTestId('delete-channel');
    await fireEvent.click(del);
    expect(calls.some((c) => c.cmd === 'delete_channel')).toBe(false);
    // The confirmation takes focus on its safe choice; Escape backs out.
    await waitFor(() => expect(document.activeElement?.getAttribute('data-testid')).toBe('cancel-delete-channel'));
    await fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('confirm-delete-channel')).toBeNull());
    await fireEvent.click(screen.getByTestId('delete-channel'));
    await fireEvent.click(screen.getByTestId('confirm-delete-channel'));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'delete_channel')).toBe(true));
    expect(calls.find((c) => c.cmd === 'delete_channel')?.args).toEqual({ name: 'team' });
    await waitFor(() => expect(closed).toBe(true));
  });

  it('says why leaving failed', async () => {
    signedInAs(bob);
    mockIPC((cmd) => {
      if (cmd === 'channel_members') return [{ user: bob, role: 'member' }];
      if (cmd === 'leave_channel') throw { code: 'forbidden', message: 'you cannot leave your personal channel' };
      return null;
    });
    render(MembersPanel, { channel: 'team', presence: [], hasPresence: true, member: true, dm: false, onClose: () => {} });
    await fireEvent.click(await screen.findByTestId('leave-channel'));
    expect((await screen.findByRole('alert')).textContent).toContain('you cannot leave your personal channel');
  });

  it('offers nothing to leave in a direct message', async () => {
    signedInAs(bob);
    server([{ user: alice, role: 'admin' }, { user: bob, role: 'member' }], []);
    render(MembersPanel, { channel: 'dm:1-2', presence: [], hasPresence: false, member: true, dm: true, onClose: () => {} });
    await waitFor(() => expect(screen.getAllByTestId('member').length).toBe(2));
    expect(screen.queryByTestId('leave-channel')).toBeNull();
    // No presence in this channel: no status is claimed for anyone.
    expect(screen.getAllByTestId('member').map((r) => r.dataset.status)).toEqual(['unknown', 'unknown']);
    expect(document.querySelector('.dot')).toBeNull();
  });
});
