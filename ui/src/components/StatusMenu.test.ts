import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import type { Settings } from '../lib/api';
import { DEFAULT_SETTINGS, session } from '../lib/stores/session.svelte';
import StatusMenu from './StatusMenu.svelte';

describe('Your status', () => {
  it('sets away with a text and an expiry, and shows it', async () => {
    session.setSettings({ ...DEFAULT_SETTINGS });
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    mockIPC((cmd, args) => {
      const a = args as Record<string, unknown>;
      calls.push({ cmd, args: a });
      if (cmd === 'set_my_status') {
        const s: Settings = {
          ...DEFAULT_SETTINGS,
          status: a.status === 'online' ? null : { status: String(a.status), text: (a.text as string) ?? null, until: (a.until as number) ?? null },
        };
        return s;
      }
      return null;
    });
    render(StatusMenu);
    const button = screen.getByTestId('my-status');
    expect(button.dataset.status).toBe('online');
    await fireEvent.click(button);
    await fireEvent.click(screen.getByTestId('status-away'));
    await fireEvent.input(document.getElementById('status-text') as HTMLInputElement, { target: { value: ' In a meeting ' } });
    await fireEvent.change(document.getElementById('status-clear') as HTMLSelectElement, { target: { value: '1h' } });
    const before = Date.now();
    await fireEvent.click(screen.getByTestId('save-status'));
    await waitFor(() => expect(screen.getByTestId('my-status').dataset.status).toBe('away'));
    const call = calls.find((c) => c.cmd === 'set_my_status');
    expect(call?.args.status).toBe('away');
    expect(call?.args.text).toBe('In a meeting');
    const until = call?.args.until as number;
    expect(until).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(until).toBeLessThan(before + 3_600_000 + 60_000);
    expect(screen.getByTestId('my-status').textContent).toContain('In a meeting');
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('back to active sends no text and no expiry; a refusal is shown', async () => {
    session.setSettings({ ...DEFAULT_SETTINGS, status: { status: 'dnd', text: 'focus', until: null } });
    let calls = 0;
    mockIPC((cmd, args) => {
      if (cmd !== 'set_my_status') return null;
      calls += 1;
      const a = args as Record<string, unknown>;
      if (calls === 1) throw { code: 'storage', message: 'cannot write the settings' };
      expect(a).toEqual({ status: 'online', text: null, until: null });
      return { ...DEFAULT_SETTINGS };
    });
    render(StatusMenu);
    expect(screen.getByTestId('my-status').dataset.status).toBe('dnd');
    await fireEvent.click(screen.getByTestId('my-status'));
    await fireEvent.click(screen.getByTestId('status-online'));
    await fireEvent.click(screen.getByTestId('save-status'));
    expect((await screen.findByRole('alert')).textContent).toContain('cannot write the settings');
    await fireEvent.click(screen.getByTestId('save-status'));
    await waitFor(() => expect(screen.getByTestId('my-status').dataset.status).toBe('online'));
  });
});
