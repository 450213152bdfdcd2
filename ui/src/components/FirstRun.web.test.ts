// The sign-in form of the web build (api.platform === 'web'): Stay signed in, invite links,
// nothing about hosting or other servers.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SessionStatus } from '../lib/api';
import { alice } from '../test/fixtures';
import FirstRun from './FirstRun.svelte';

const signedIn: SessionStatus = {
  workspace: { server: 'http://localhost:3000', hosted: false },
  user: alice,
  keyring: { state: 'available' },
  connection: { state: 'connecting', attempt: 1 },
};

const web = vi.hoisted(() => ({
  signIn: vi.fn(),
  acceptInvite: vi.fn(),
}));

vi.mock('../lib/api', async (original) => {
  const real = await original<typeof import('../lib/api')>();
  return {
    ...real,
    api: { ...real.api, platform: 'web', signIn: web.signIn, acceptInvite: web.acceptInvite },
  };
});

const page: SessionStatus = { ...signedIn, user: null, connection: null };

function input(selector: string): HTMLInputElement {
  const el = document.querySelector<HTMLInputElement>(selector);
  if (el == null) throw new Error(`${selector} not found`);
  return el;
}

afterEach(() => {
  history.replaceState(null, '', '/');
  vi.clearAllMocks();
});

describe('First run in the web app', () => {
  it('signs in with "Stay signed in" and offers no other workspace', async () => {
    web.signIn.mockResolvedValue(signedIn);
    render(FirstRun, { status: page });
    expect(screen.queryByText('Use another workspace')).toBeNull();
    const stay = screen.getByLabelText('Stay signed in');
    expect(stay.dataset.testid).toBe('stay-signed-in');
    await fireEvent.input(input('#username'), { target: { value: 'alice' } });
    await fireEvent.input(input('#password'), { target: { value: 'correct horse' } });
    await fireEvent.click(stay);
    await fireEvent.click(screen.getByTestId('sign-in'));
    await waitFor(() => expect(web.signIn).toHaveBeenCalledWith('alice', 'correct horse', true));
  });

  it('opens on the invite form for an invite link', async () => {
    web.acceptInvite.mockResolvedValue(signedIn);
    history.replaceState(null, '', '/?invite=inv_abc');
    render(FirstRun, { status: page });
    expect(screen.queryByTestId('submit-join')).toBeNull();
    expect(input('[data-testid="invite-link-input"]').value).toContain('invite=inv_abc');
    await fireEvent.input(input('#invite-username'), { target: { value: 'bob' } });
    await fireEvent.input(input('#invite-password'), { target: { value: 'correct horse' } });
    await fireEvent.click(screen.getByTestId('submit-invite'));
    await waitFor(() =>
      expect(web.acceptInvite).toHaveBeenCalledWith(expect.stringContaining('invite=inv_abc'), 'bob', 'correct horse'),
    );
  });
});
