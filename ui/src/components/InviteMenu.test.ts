import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import { bob } from '../test/fixtures';
import InviteMenu from './InviteMenu.svelte';

describe('InviteMenu', () => {
  it('invites a person by name and says so', async () => {
    const calls: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd !== 'invite') throw new Error(`unexpected ${cmd}`);
      calls.push(args);
      return bob;
    });
    render(InviteMenu, { channel: 'secret' });
    await fireEvent.click(screen.getByTestId('invite-button'));
    const input = screen.getByLabelText('Invite to #secret') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: '@bob ' } });
    await fireEvent.click(screen.getByTestId('submit-invite'));
    await waitFor(() => expect(screen.getByTestId('invite-done').textContent).toContain('bob was added to #secret'));
    expect(calls).toEqual([{ channel: 'secret', user: 'bob' }]);
    expect(input.value).toBe('');
  });

  it("shows the server's refusal", async () => {
    mockIPC(() => {
      throw { code: 'not_found', message: 'no user named nobody' };
    });
    render(InviteMenu, { channel: 'secret' });
    await fireEvent.click(screen.getByTestId('invite-button'));
    const input = screen.getByLabelText('Invite to #secret');
    await fireEvent.input(input, { target: { value: 'nobody' } });
    await fireEvent.click(screen.getByTestId('submit-invite'));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('no user named nobody'));
  });
});
