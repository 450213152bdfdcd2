import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import PasswordForm from './PasswordForm.svelte';

function input(selector: string): HTMLInputElement {
  const el = document.querySelector<HTMLInputElement>(selector);
  if (el == null) throw new Error(`${selector} not found`);
  return el;
}

async function fill(current: string, next: string, again: string): Promise<void> {
  await fireEvent.input(input('#pw-current'), { target: { value: current } });
  await fireEvent.input(input('#pw-new'), { target: { value: next } });
  await fireEvent.input(input('#pw-again'), { target: { value: again } });
}

describe('Change password', () => {
  it('checks the new password before asking the server', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return 0;
    });
    render(PasswordForm);
    await fill('old password', 'short', 'short');
    await fireEvent.click(screen.getByTestId('change-password'));
    const tooShort = await screen.findByTestId('pw-new-error');
    expect(tooShort.textContent).toBe('A password has at least 8 characters; this one has 5.');
    expect(input('#pw-new').getAttribute('aria-invalid')).toBe('true');
    expect(input('#pw-new').getAttribute('aria-describedby')).toBe('pw-new-error');
    expect(document.activeElement).toBe(input('#pw-new'));
    await fill('old password', 'a new password', 'another one');
    expect(screen.queryByTestId('pw-new-error')).toBeNull();
    await fireEvent.click(screen.getByTestId('change-password'));
    await waitFor(() => expect(screen.getByTestId('pw-again-error').textContent).toBe('The two new passwords differ.'));
    await fill('', 'x'.repeat(1025), 'x'.repeat(1025));
    await fireEvent.click(screen.getByTestId('change-password'));
    expect(screen.getByTestId('pw-current-error').textContent).toBe('Enter your current password.');
    expect(screen.getByTestId('pw-new-error').textContent).toBe('A password has at most 1024 characters; this one has 1025.');
    expect(screen.queryByTestId('password-error')).toBeNull();
    expect(calls).not.toContain('change_password');
  });

  it('changes it and says how many sessions were signed out', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      return 2;
    });
    render(PasswordForm);
    await fill('old password', 'a new password', 'a new password');
    await fireEvent.click(document.querySelector<HTMLInputElement>('input[type=checkbox]')!);
    await fireEvent.click(screen.getByTestId('change-password'));
    await waitFor(() => expect(screen.getByTestId('password-done').textContent).toContain('2 other sessions'));
    expect(calls).toContainEqual({
      cmd: 'change_password',
      args: { currentPassword: 'old password', newPassword: 'a new password', signOutOthers: true },
    });
  });

  it('shows the server refusal', async () => {
    mockIPC(() => {
      throw { code: 'forbidden', message: 'the current password is wrong' };
    });
    render(PasswordForm);
    await fill('wrong', 'a new password', 'a new password');
    await fireEvent.click(screen.getByTestId('change-password'));
    await waitFor(() => expect(screen.getByTestId('password-error').textContent).toContain('current password is wrong'));
  });
});
