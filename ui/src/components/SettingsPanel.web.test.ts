// Settings in the web build (../lib/web/api.ts for ../lib/api.ts, as vite.config.ts swaps
// them): a browser has no tray and starts nothing at login, so there is no "Running in the
// background" section.
import { render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { api } from '../lib/api';
import SettingsPanel from './SettingsPanel.svelte';

vi.mock('../lib/api', () => import('../lib/web/api'));

describe('Settings in the web app', () => {
  it('shows nothing about the tray or starting at login', async () => {
    expect(api.platform).toBe('web');
    expect(await api.desktopInfo()).toEqual({ tray: false, autostart_file: null });
    render(SettingsPanel);
    await screen.findByRole('heading', { name: 'Notifications' });
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.queryByTestId('background-settings')).toBeNull();
    expect(screen.queryByTestId('close-to-tray')).toBeNull();
    expect(screen.queryByTestId('start-at-login')).toBeNull();
  });
});
