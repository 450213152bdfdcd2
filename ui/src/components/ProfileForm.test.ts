import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it, vi } from 'vitest';
import { alice } from '../test/fixtures';
import ProfileForm from './ProfileForm.svelte';

function nameInput(): HTMLInputElement {
  return document.querySelector<HTMLInputElement>('#profile-display-name')!;
}

describe('Profile', () => {
  it('refuses a display name that is too long without asking the server, and clears an empty one', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      return { ...alice, display_name: null };
    });
    render(ProfileForm, { user: { ...alice, display_name: 'Alice' } });
    await fireEvent.input(nameInput(), { target: { value: 'x'.repeat(65) } });
    await fireEvent.click(screen.getByTestId('save-display-name'));
    await waitFor(() => expect(screen.getByTestId('profile-error').textContent).toContain('at most 64'));
    expect(calls).toHaveLength(0);
    await fireEvent.input(nameInput(), { target: { value: '   ' } });
    await fireEvent.click(screen.getByTestId('save-display-name'));
    await waitFor(() => expect(screen.getByTestId('profile-done').textContent).toContain('cleared'));
    expect(calls).toContainEqual({ cmd: 'set_display_name', args: { name: '' } });
  });

  it('saves the display name, and shows the server’s refusal', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      const name = (args as { name: string }).name;
      if (name === 'bob') throw { code: 'invalid_user', message: 'this display name passes for another user' };
      return { ...alice, display_name: name };
    });
    render(ProfileForm, { user: alice });
    await fireEvent.input(nameInput(), { target: { value: ' Alice A ' } });
    await fireEvent.click(screen.getByTestId('save-display-name'));
    await waitFor(() => expect(screen.getByTestId('profile-done').textContent).toContain('saved'));
    expect(calls).toContainEqual({ cmd: 'set_display_name', args: { name: 'Alice A' } });
    await fireEvent.input(nameInput(), { target: { value: 'bob' } });
    await fireEvent.click(screen.getByTestId('save-display-name'));
    await waitFor(() => expect(screen.getByTestId('profile-error').textContent).toContain('another user'));
  });

  it('uploads a picked image as the avatar and shows it', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    const withAvatar = { ...alice, avatar: '/api/users/1/avatar?v=ab12' };
    URL.createObjectURL = vi.fn(() => 'blob:avatar');
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'set_avatar') return withAvatar;
      if (cmd === 'avatar') return [137, 80, 78, 71];
      return null;
    });
    const { rerender } = render(ProfileForm, { user: alice });
    expect(screen.queryByTestId('remove-avatar')).toBeNull();
    const file = new File([new Uint8Array([1, 2, 3])], 'me.png', { type: 'image/png' });
    // jsdom's File has no arrayBuffer(); the webview's has.
    Object.defineProperty(file, 'arrayBuffer', { value: async () => new Uint8Array([1, 2, 3]).buffer });
    await fireEvent.change(screen.getByTestId('avatar-file'), { target: { files: [file] } });
    await waitFor(() => expect(screen.getByTestId('profile-done').textContent).toContain('Picture changed'));
    expect(calls).toContainEqual({ cmd: 'set_avatar', args: { bytes: [1, 2, 3] } });
    // The session hands the new account back (push_status); the picture shows.
    await rerender({ user: withAvatar });
    await waitFor(() => expect(screen.getByTestId('avatar-image').getAttribute('src')).toBe('blob:avatar'));
    expect(calls).toContainEqual({ cmd: 'avatar', args: { path: '/api/users/1/avatar?v=ab12' } });
    expect(screen.getByTestId('remove-avatar')).not.toBeNull();
  });

  it('shows initials when the avatar cannot be fetched', async () => {
    mockIPC((cmd) => {
      if (cmd === 'avatar') throw { code: 'user_not_found', message: 'this user has no avatar' };
      return null;
    });
    render(ProfileForm, { user: { ...alice, avatar: '/api/users/1/avatar?v=gone' } });
    await waitFor(() => expect(document.querySelector('.avatar')?.textContent?.trim()).toBe('A'));
    expect(screen.queryByTestId('avatar-image')).toBeNull();
  });
});
