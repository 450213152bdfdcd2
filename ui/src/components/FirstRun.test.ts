import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import type { SessionStatus } from '../lib/api';
import { session } from '../lib/stores/session.svelte';
import { alice } from '../test/fixtures';
import FirstRun from './FirstRun.svelte';

const fresh: SessionStatus = {
  workspace: null,
  user: null,
  keyring: { state: 'available' },
  connection: null,
};

function input(selector: string): HTMLInputElement {
  const el = document.querySelector<HTMLInputElement>(selector);
  if (el == null) throw new Error(`${selector} not found`);
  return el;
}

describe('First run', () => {
  it('hosts a workspace with the first admin account', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    const signedIn: SessionStatus = {
      workspace: { server: 'http://127.0.0.1:7000', hosted: true },
      user: alice,
      keyring: { state: 'available' },
      connection: { state: 'connecting', attempt: 0 },
    };
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'host_workspace') return signedIn;
      return null;
    });
    render(FirstRun, { status: fresh });
    await fireEvent.click(screen.getByTestId('host-workspace'));
    await fireEvent.input(input('#username'), { target: { value: 'alice' } });
    await fireEvent.input(input('#password'), { target: { value: 'correct horse' } });
    await fireEvent.click(screen.getByTestId('submit-host'));
    await waitFor(() => expect(calls).toContainEqual({ cmd: 'host_workspace', args: { username: 'alice', password: 'correct horse', lan: false } }));
    await waitFor(() => expect(session.user?.name).toBe('alice'));
  });

  it('shows the refusal with its code', async () => {
    mockIPC((cmd) => {
      if (cmd === 'host_workspace') throw { code: 'host_failed', message: 'The port is in use' };
      return null;
    });
    render(FirstRun, { status: fresh });
    await fireEvent.click(screen.getByTestId('host-workspace'));
    await fireEvent.input(input('#username'), { target: { value: 'alice' } });
    await fireEvent.input(input('#password'), { target: { value: 'correct horse' } });
    await fireEvent.click(screen.getByTestId('submit-host'));
    const error = await screen.findByTestId('form-error');
    expect(error.textContent?.trim()).toBe('The port is in use');
    expect(error.dataset.code).toBe('host_failed');
  });

  it('joins a server, then signs in or registers on the same form', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    const joined: SessionStatus = { ...fresh, workspace: { server: 'http://chat.example:8080', hosted: false } };
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'join_workspace') return joined;
      if (cmd === 'sign_in') throw { code: 'invalid_credentials', message: 'Wrong user name or password' };
      if (cmd === 'register') return { ...joined, user: alice };
      return null;
    });
    const view = render(FirstRun, { status: fresh });
    await fireEvent.click(screen.getByTestId('join-workspace'));
    await fireEvent.input(input('#server-url'), { target: { value: 'chat.example:8080' } });
    await fireEvent.click(screen.getByTestId('submit-join'));
    await waitFor(() => expect(calls).toContainEqual({ cmd: 'join_workspace', args: { server: 'http://chat.example:8080' } }));

    await view.rerender({ status: joined });
    await fireEvent.input(input('#username'), { target: { value: 'alice' } });
    await fireEvent.input(input('#password'), { target: { value: 'pw' } });
    await fireEvent.click(screen.getByTestId('sign-in'));
    const error = await screen.findByTestId('form-error');
    expect(error.dataset.code).toBe('invalid_credentials');

    await fireEvent.input(input('#password'), { target: { value: 'correct horse' } });
    await fireEvent.click(screen.getByTestId('register'));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'register')).toBe(true));
  });

  it('warns when there is no keyring', () => {
    mockIPC(() => null);
    render(FirstRun, { status: { ...fresh, keyring: { state: 'unavailable', reason: 'no secret service' } } });
    const notice = screen.getByTestId('keyring-notice');
    expect(notice.textContent).toContain('No keyring service: you will need to sign in again next time');
    expect(notice.textContent).toContain('no secret service');
  });
});

describe('First run: user names', () => {
  it('says what a user name may be before the server is asked', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return null;
    });
    render(FirstRun, { status: fresh });
    await fireEvent.click(screen.getByTestId('host-workspace'));
    await fireEvent.input(input('#username'), { target: { value: 'john smith' } });
    await fireEvent.input(input('#password'), { target: { value: 'correct horse' } });
    await fireEvent.click(screen.getByTestId('submit-host'));
    const error = await screen.findByTestId('username-error');
    expect(error.textContent?.trim()).toBe(
      'A user name cannot contain spaces: only letters a–z and A–Z, digits, “-”, “_” and “.”.',
    );
    const name = input('#username');
    expect(name.getAttribute('aria-invalid')).toBe('true');
    expect(name.getAttribute('aria-describedby')).toBe(error.id);
    expect(document.activeElement).toBe(name);
    expect(input('#password').getAttribute('aria-invalid')).toBe('false');
    expect(screen.queryByTestId('form-error')).toBeNull();
    expect(calls).not.toContain('host_workspace');
    // Editing the field clears its message.
    await fireEvent.input(name, { target: { value: 'john' } });
    expect(screen.queryByTestId('username-error')).toBeNull();
    expect(name.getAttribute('aria-describedby')).toBeNull();
  });

  it('checks a new account on a joined server the same way', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return null;
    });
    render(FirstRun, {
      status: { ...fresh, workspace: { server: 'http://127.0.0.1:7000', hosted: false } },
    });
    await fireEvent.input(input('#username'), { target: { value: '.hidden' } });
    await fireEvent.input(input('#password'), { target: { value: 'correct horse' } });
    await fireEvent.click(screen.getByTestId('register'));
    const error = await screen.findByTestId('username-error');
    expect(error.textContent).toBe('A user name starts with a letter or a digit, not “.”.');
    expect(calls).not.toContain('register');
  });

  it('sets a new password with a reset code and signs in', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    const joined: SessionStatus = { ...fresh, workspace: { server: 'http://127.0.0.1:7000', hosted: false } };
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'reset_password') {
        if ((args as { code: string }).code !== 'GOOD') throw { code: 'invalid_reset_code', message: 'this reset code is unknown, used or expired' };
        return { ...joined, user: alice, connection: { state: 'connecting', attempt: 0 } };
      }
      return null;
    });
    render(FirstRun, { status: joined });
    await fireEvent.click(screen.getByTestId('forgot-password'));
    await fireEvent.input(input('#reset-username'), { target: { value: 'alice' } });
    await fireEvent.input(input('#reset-code'), { target: { value: 'BAD' } });
    await fireEvent.input(input('#reset-password'), { target: { value: 'short' } });
    await fireEvent.click(screen.getByTestId('submit-reset'));
    expect((await screen.findByTestId('reset-password-error')).textContent).toBe(
      'A password has at least 8 characters; this one has 5.',
    );
    expect(calls.map((c) => c.cmd)).not.toContain('reset_password');
    await fireEvent.input(input('#reset-password'), { target: { value: 'a new password' } });
    await fireEvent.click(screen.getByTestId('submit-reset'));
    await waitFor(() => expect(screen.getByTestId('form-error').dataset.code).toBe('invalid_reset_code'));
    await fireEvent.input(input('#reset-code'), { target: { value: ' GOOD ' } });
    await fireEvent.click(screen.getByTestId('submit-reset'));
    await waitFor(() => expect(session.user?.name).toBe('alice'));
    expect(calls).toContainEqual({
      cmd: 'reset_password',
      args: { username: 'alice', code: 'GOOD', newPassword: 'a new password' },
    });
  });
});

describe('First run: each refused field says why, next to it', () => {
  it('checks a new password and both fields at once, and sends nothing', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return null;
    });
    render(FirstRun, { status: fresh });
    await fireEvent.click(screen.getByTestId('host-workspace'));
    await fireEvent.click(screen.getByTestId('submit-host'));
    expect(screen.getByTestId('username-error').textContent).toBe('Enter a user name.');
    expect(screen.getByTestId('password-error').textContent).toBe('Enter a password.');
    expect(document.activeElement).toBe(input('#username'));
    await fireEvent.input(input('#username'), { target: { value: 'a'.repeat(41) } });
    await fireEvent.input(input('#password'), { target: { value: 'x'.repeat(1025) } });
    await fireEvent.click(screen.getByTestId('submit-host'));
    expect(screen.getByTestId('username-error').textContent).toBe('A user name has at most 40 characters; this one has 41.');
    expect(screen.getByTestId('password-error').textContent).toBe('A password has at most 1024 characters; this one has 1025.');
    expect(input('#password').getAttribute('aria-describedby')).toBe('password-error');
    await fireEvent.input(input('#username'), { target: { value: 'alice' } });
    await fireEvent.input(input('#password'), { target: { value: 'seven77' } });
    await fireEvent.click(screen.getByTestId('submit-host'));
    expect(screen.queryByTestId('username-error')).toBeNull();
    expect(screen.getByTestId('password-error').textContent).toBe('A password has at least 8 characters; this one has 7.');
    expect(document.activeElement).toBe(input('#password'));
    expect(calls).not.toContain('host_workspace');
  });

  it('checks the invite form and the server address the same way', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return null;
    });
    render(FirstRun, { status: fresh });
    await fireEvent.click(screen.getByTestId('join-workspace'));
    await fireEvent.click(screen.getByTestId('submit-join'));
    expect(screen.getByTestId('server-url-error').textContent).toBe('Enter the address of the Parley server.');
    await fireEvent.input(input('#invite-link'), { target: { value: 'https://example.org' } });
    await fireEvent.input(input('#invite-username'), { target: { value: 'bob/2' } });
    await fireEvent.input(input('#invite-password'), { target: { value: 'short' } });
    await fireEvent.click(screen.getByTestId('submit-invite'));
    expect(screen.getByTestId('invite-link-error').textContent).toContain('parley://join?');
    expect(screen.getByTestId('invite-username-error').textContent).toContain('cannot contain “/”');
    expect(screen.getByTestId('invite-password-error').textContent).toContain('at least 8');
    expect(calls).toEqual([]);
  });

  it('signing in only asks for both fields (old passwords are not judged)', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      throw { code: 'invalid_credentials', message: 'Wrong user name or password' };
    });
    render(FirstRun, { status: { ...fresh, workspace: { server: 'http://127.0.0.1:7000', hosted: false } } });
    await fireEvent.click(screen.getByTestId('sign-in'));
    expect(screen.getByTestId('username-error').textContent).toBe('Enter your user name.');
    expect(screen.getByTestId('password-error').textContent).toBe('Enter your password.');
    expect(calls).toEqual([]);
    await fireEvent.input(input('#username'), { target: { value: 'alice' } });
    await fireEvent.input(input('#password'), { target: { value: 'pw' } });
    await fireEvent.click(screen.getByTestId('sign-in'));
    await waitFor(() => expect(calls).toEqual(['sign_in']));
  });
});
