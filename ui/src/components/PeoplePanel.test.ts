import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import type { UserInfo } from '../lib/api';
import PeoplePanel from './PeoplePanel.svelte';

function account(id: number, name: string, patch: Partial<UserInfo> = {}): UserInfo {
  return { id, name, display_name: null, avatar: null, admin: false, disabled: false, created_at: 0, ...patch };
}

/** A server with these accounts, doing what the admin operations do to them. */
function server(accounts: UserInfo[], calls: { cmd: string; args: unknown }[]): void {
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    const a = args as { id?: number; disabled?: boolean };
    switch (cmd) {
      case 'people':
        return accounts.map((x) => ({ ...x }));
      case 'set_user_disabled': {
        const target = accounts.find((x) => x.id === a.id);
        if (target != null) target.disabled = a.disabled === true;
        return null;
      }
      case 'delete_user':
        accounts.splice(
          accounts.findIndex((x) => x.id === a.id),
          1,
        );
        return null;
      case 'reset_code':
        return { code: 'RESET-1234', expires_at: Date.now() + 3_600_000 };
      default:
        return null;
    }
  });
}

describe('People (admins)', () => {
  it('is not shown to members: the server refuses them the list', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      throw { code: 'forbidden', message: 'only workspace admins may manage people' };
    });
    render(PeoplePanel, { me: 2 });
    await waitFor(() => expect(calls).toContain('people'));
    expect(screen.queryByTestId('people')).toBeNull();
    expect(screen.queryByTestId('people-error')).toBeNull();
  });

  it('lists the accounts, with no actions on one’s own', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    server([account(1, 'alice', { admin: true }), account(2, 'bob', { display_name: 'Bob B' })], calls);
    render(PeoplePanel, { me: 1 });
    await waitFor(() => expect(screen.getAllByTestId('person')).toHaveLength(2));
    const [me, bob] = screen.getAllByTestId('person');
    expect(me!.textContent).toContain('admin');
    expect(me!.querySelector('[data-testid=disable-person]')).toBeNull();
    expect(bob!.textContent).toContain('Bob B (@bob)');
    expect(bob!.querySelector('[data-testid=disable-person]')).not.toBeNull();
  });

  it('disables and enables an account', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    server([account(1, 'alice', { admin: true }), account(2, 'bob')], calls);
    render(PeoplePanel, { me: 1 });
    await waitFor(() => screen.getByTestId('disable-person'));
    await fireEvent.click(screen.getByTestId('disable-person'));
    await waitFor(() => expect(screen.getAllByTestId('person')[1]!.dataset.disabled).toBe('true'));
    expect(screen.getAllByTestId('person')[1]!.textContent).toContain('disabled');
    expect(calls).toContainEqual({ cmd: 'set_user_disabled', args: { id: 2, disabled: true } });
    await fireEvent.click(screen.getByTestId('enable-person'));
    await waitFor(() => expect(screen.getAllByTestId('person')[1]!.dataset.disabled).toBe('false'));
    expect(calls).toContainEqual({ cmd: 'set_user_disabled', args: { id: 2, disabled: false } });
  });

  it('shows a reset code once, to hand over', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    server([account(1, 'alice', { admin: true }), account(2, 'bob')], calls);
    render(PeoplePanel, { me: 1 });
    await waitFor(() => screen.getByTestId('reset-person'));
    await fireEvent.click(screen.getByTestId('reset-person'));
    await waitFor(() =>
      expect(screen.getByTestId<HTMLInputElement>('reset-code-value').value).toBe('RESET-1234'),
    );
    expect(screen.getByTestId('reset-code').textContent).toContain('bob');
    expect(calls).toContainEqual({ cmd: 'reset_code', args: { id: 2 } });
  });

  it('deletes an account only once confirmed', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    server([account(1, 'alice', { admin: true }), account(2, 'bob')], calls);
    render(PeoplePanel, { me: 1 });
    await waitFor(() => screen.getByTestId('delete-person'));
    await fireEvent.click(screen.getByTestId('delete-person'));
    expect(calls.map((c) => c.cmd)).not.toContain('delete_user');
    await fireEvent.click(screen.getByTestId('confirm-delete-person'));
    await waitFor(() => expect(screen.getAllByTestId('person')).toHaveLength(1));
    expect(calls).toContainEqual({ cmd: 'delete_user', args: { id: 2 } });
  });

  it('says why an operation was refused', async () => {
    mockIPC((cmd) => {
      if (cmd === 'people') return [account(1, 'alice', { admin: true }), account(2, 'bob')];
      throw { code: 'forbidden', message: 'admins cannot be disabled by other admins' };
    });
    render(PeoplePanel, { me: 1 });
    await waitFor(() => screen.getByTestId('disable-person'));
    await fireEvent.click(screen.getByTestId('disable-person'));
    await waitFor(() => expect(screen.getByTestId('people-error').textContent).toContain('cannot be disabled'));
  });
});
