import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import type { InviteInfo, InviteLinkView } from '../lib/api';
import { alice } from '../test/fixtures';
import InvitePanel from './InvitePanel.svelte';

const link = (patch: Partial<InviteLinkView> = {}): InviteLinkView => ({
  link: 'parley://join?server=https%3A%2F%2F192.168.1.4%3A7000&fingerprint=sha256%3Aab&invite=CODE',
  server: 'https://192.168.1.4:7000',
  fingerprint: 'sha256:ab',
  expires_at: Date.now() + 7 * 86_400_000,
  uses: 1,
  this_computer_only: false,
  ...patch,
});

function live(id: number, uses_left = 1): InviteInfo {
  return { id, uses_left, expires_at: Date.now() + 86_400_000, created_by: alice, created_at: 0 };
}

describe('Invite people', () => {
  it('creates a link and lists it among the live invites', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    let invites: InviteInfo[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'list_invites') return invites;
      if (cmd === 'create_invite_link') {
        invites = [live(7, 3)];
        return link({ uses: 3 });
      }
      return null;
    });
    render(InvitePanel);
    await fireEvent.input(document.querySelector('input[type=number]')!, { target: { value: '3' } });
    await fireEvent.click(screen.getByTestId('create-invite'));
    await waitFor(() => expect(screen.getByTestId<HTMLTextAreaElement>('invite-link').value).toContain('parley://join?'));
    expect(screen.getByTestId('invite-hint').textContent).toContain('3 times');
    expect(screen.getByTestId('invite-hint').textContent).toContain('Join with an invite link');
    expect(calls).toContainEqual({ cmd: 'create_invite_link', args: { uses: 3, expiresIn: '7d' } });
    await waitFor(() => expect(screen.getAllByTestId('invite-row')).toHaveLength(1));
  });

  it('says when a link only works on this computer', async () => {
    mockIPC((cmd) => {
      if (cmd === 'list_invites') return [];
      return link({ server: 'http://127.0.0.1:7000', fingerprint: null, this_computer_only: true });
    });
    render(InvitePanel);
    await fireEvent.click(screen.getByTestId('create-invite'));
    await waitFor(() => expect(screen.getByTestId('invite-hint').textContent).toContain('this computer only'));
  });

  it('revokes a live invite', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    let invites = [live(7), live(8)];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'list_invites') return invites;
      if (cmd === 'revoke_invite') invites = invites.filter((i) => i.id !== (args as { id: number }).id);
      return null;
    });
    render(InvitePanel);
    await waitFor(() => expect(screen.getAllByTestId('invite-row')).toHaveLength(2));
    await fireEvent.click(screen.getByLabelText('Revoke invite 7'));
    await waitFor(() => expect(screen.getAllByTestId('invite-row')).toHaveLength(1));
    expect(calls).toContainEqual({ cmd: 'revoke_invite', args: { id: 7 } });
  });

  it('shows the server’s refusal to a member who may not invite', async () => {
    mockIPC((cmd) => {
      if (cmd === 'list_invites') return [];
      throw { code: 'forbidden', message: 'only workspace admins may invite people' };
    });
    render(InvitePanel);
    await fireEvent.click(screen.getByTestId('create-invite'));
    await waitFor(() => expect(screen.getByTestId('invite-error').textContent).toContain('only workspace admins'));
  });
});
