import { fireEvent, render, screen } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { get } from 'svelte/store';
import { afterEach, describe, expect, it } from 'vitest';
import { nav, resetNav } from '../lib/nav';
import { chat } from '../lib/stores/chat.svelte';
import { session } from '../lib/stores/session.svelte';
import { alice, channelView } from '../test/fixtures';
import Sidebar from './Sidebar.svelte';

afterEach(() => {
  chat.clear();
  resetNav();
});

function item(name: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-testid=channel-item][data-channel="${name}"]`);
  if (el == null) throw new Error(`no item for ${name}`);
  return el;
}

describe('Sidebar', () => {
  it('shows unread and mention badges, dims muted channels, lists DMs', async () => {
    mockIPC(() => null);
    session.setStatus({
      workspace: { server: 'http://chat.example', hosted: false },
      user: alice,
      keyring: { state: 'available' },
      connection: null,
    });
    chat.setChannels([
      channelView('general', { unread: 3, mentions: 1 }),
      channelView('random'),
      channelView('quiet', { unread: 2, muted_until: Date.now() + 3_600_000 }),
      channelView('dm:alice,bob', { dm_with: ['bob'] }),
      channelView('elsewhere', { info: { ...channelView('elsewhere').info, member: false } }),
    ]);
    render(Sidebar);
    expect(screen.getByTestId('current-user').textContent).toBe('alice');

    expect(item('general').querySelector('[data-testid=unread-badge]')?.textContent).toBe('3');
    expect(item('general').querySelector('[data-testid=mention-badge]')?.textContent).toBe('@1');
    expect(item('random').querySelector('[data-testid=unread-badge]')).toBeNull();
    expect(item('random').querySelector('[data-testid=mention-badge]')).toBeNull();
    expect(item('quiet').classList.contains('muted')).toBe(true);
    expect(item('dm:alice,bob').textContent).toContain('bob');
    expect(document.querySelector('[data-channel="elsewhere"]')).toBeNull();

    await fireEvent.click(item('random'));
    expect(get(nav)).toMatchObject({ view: 'chat', channel: 'random' });
    await fireEvent.click(screen.getByTestId('nav-docs'));
    expect(get(nav).view).toBe('docs');
  });

  it('creates a channel', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === 'create_channel') return channelView('design').info;
      if (cmd === 'list_channels') return [channelView('design')];
      return [];
    });
    render(Sidebar);
    await fireEvent.click(screen.getByTestId('new-channel'));
    const name = document.querySelector<HTMLInputElement>('#new-channel-name');
    if (name == null) throw new Error('no name field');
    await fireEvent.input(name, { target: { value: 'design' } });
    await fireEvent.click(screen.getByTestId('create-channel'));
    await screen.findByText('design');
    expect(calls[0]).toEqual({ cmd: 'create_channel', args: { name: 'design', private: false, topic: null } });
    expect(get(nav).channel).toBe('design');
  });

  it('says the channel-name rule instead of asking for a name the server refuses', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return [];
    });
    render(Sidebar);
    await fireEvent.click(screen.getByTestId('new-channel'));
    const name = document.querySelector<HTMLInputElement>('#new-channel-name');
    if (name == null) throw new Error('no name field');
    await fireEvent.input(name, { target: { value: 'Design Team' } });
    await fireEvent.click(screen.getByTestId('create-channel'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('lowercase letters');
    expect(calls).not.toContain('create_channel');
  });
});
