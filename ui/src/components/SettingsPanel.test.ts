// Settings' "Running in the background": closing to the tray and starting at login, saved at
// once like every setting; hidden where the desktop offers neither (the web app).
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import axe from 'axe-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { DesktopInfo, Settings } from '../lib/api';
import { DEFAULT_SETTINGS, session } from '../lib/stores/session.svelte';
import SettingsPanel from './SettingsPanel.svelte';

const AUTOSTART = '/home/alice/.config/autostart/parley.desktop';

afterEach(() => session.setSettings({ ...DEFAULT_SETTINGS }));

/** The app: `desktop` for desktop_info; set_settings saves (or `refuse` throws). */
function fake(desktop: DesktopInfo, refuse: { code: string; message: string } | null = null) {
  const saved: Settings[] = [];
  let asked = false;
  mockIPC((cmd, args) => {
    if (cmd === 'desktop_info') {
      asked = true;
      return desktop;
    }
    if (cmd === 'set_settings') {
      if (refuse != null) throw refuse;
      const settings = (args as { settings: Settings }).settings;
      saved.push(settings);
      return settings;
    }
    return null;
  });
  return { saved, asked: () => asked };
}

function checkbox(testid: string): HTMLInputElement {
  return screen.getByTestId(testid) as HTMLInputElement;
}

describe('Settings: running in the background', () => {
  it('saves closing to the tray and starting at login', async () => {
    session.setSettings({ ...DEFAULT_SETTINGS });
    const app = fake({ tray: true, autostart_file: AUTOSTART });
    render(SettingsPanel);
    await screen.findByTestId('background-settings');
    expect(screen.getByRole('heading', { name: 'Running in the background' })).toBeTruthy();
    // The defaults: close to the tray, no autostart.
    expect(checkbox('close-to-tray').checked).toBe(true);
    expect(checkbox('close-to-tray').disabled).toBe(false);
    expect(checkbox('start-at-login').checked).toBe(false);
    expect(screen.queryByTestId('no-tray-note')).toBeNull();
    const note = screen.getByTestId('start-at-login-note');
    expect(note.textContent).toContain(AUTOSTART);
    expect(note.textContent).toContain('starts hidden in the tray');
    expect(checkbox('start-at-login').getAttribute('aria-describedby')).toBe(note.id);

    await fireEvent.click(checkbox('close-to-tray'));
    await waitFor(() => expect(app.saved).toHaveLength(1));
    expect(app.saved[0]).toMatchObject({ close_to_tray: false, start_at_login: false, notifications: true });
    expect(session.settings.close_to_tray).toBe(false);
    expect(checkbox('close-to-tray').checked).toBe(false);

    await fireEvent.click(checkbox('start-at-login'));
    await waitFor(() => expect(app.saved).toHaveLength(2));
    expect(app.saved[1]).toMatchObject({ close_to_tray: false, start_at_login: true });
    expect(session.settings.start_at_login).toBe(true);
    expect(checkbox('start-at-login').checked).toBe(true);
    expect(screen.queryByTestId('background-error')).toBeNull();
  });

  it('shows why a change was refused and keeps the saved setting', async () => {
    session.setSettings({ ...DEFAULT_SETTINGS });
    fake(
      { tray: true, autostart_file: AUTOSTART },
      { code: 'storage', message: `cannot write ${AUTOSTART}: read-only file system` },
    );
    render(SettingsPanel);
    await screen.findByTestId('background-settings');
    await fireEvent.click(checkbox('start-at-login'));
    const error = await screen.findByTestId('background-error');
    expect(error.textContent).toBe(`cannot write ${AUTOSTART}: read-only file system`);
    expect(error.getAttribute('role')).toBe('alert');
    expect(session.settings.start_at_login).toBe(false);
    expect(checkbox('start-at-login').checked).toBe(false);
    // The next change that saves clears it.
    fake({ tray: true, autostart_file: AUTOSTART });
    await fireEvent.click(checkbox('close-to-tray'));
    await waitFor(() => expect(screen.queryByTestId('background-error')).toBeNull());
    expect(checkbox('close-to-tray').checked).toBe(false);
  });

  it('without a tray: closing quits, so its checkbox is off limits and says why', async () => {
    session.setSettings({ ...DEFAULT_SETTINGS });
    fake({ tray: false, autostart_file: AUTOSTART });
    render(SettingsPanel);
    await screen.findByTestId('background-settings');
    const close = checkbox('close-to-tray');
    expect(close.disabled).toBe(true);
    const note = screen.getByTestId('no-tray-note');
    expect(close.getAttribute('aria-describedby')).toBe(note.id);
    expect(note.textContent?.trim()).toBe('This desktop shows no tray icons, so closing the window quits Parley.');
    // Starting at login still can be had (the window opens then).
    expect(checkbox('start-at-login').disabled).toBe(false);
    expect(screen.getByTestId('start-at-login-note').textContent).toContain(AUTOSTART);
    expect(screen.getByTestId('start-at-login-note').textContent).not.toContain('hidden in the tray');
    const result = await axe.run(screen.getByTestId('background-settings'), {
      rules: { 'color-contrast': { enabled: false }, 'target-size': { enabled: false } },
      resultTypes: ['violations'],
    });
    expect(result.violations.map((v) => v.id)).toEqual([]);
  });

  it('is not there where there is neither a tray nor autostart (the web app)', async () => {
    session.setSettings({ ...DEFAULT_SETTINGS });
    const app = fake({ tray: false, autostart_file: null });
    render(SettingsPanel);
    await waitFor(() => expect(app.asked()).toBe(true));
    // Let the answer land.
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.getByRole('heading', { name: 'Notifications' })).toBeTruthy();
    expect(screen.queryByTestId('background-settings')).toBeNull();
    expect(screen.queryByTestId('close-to-tray')).toBeNull();
    expect(screen.queryByTestId('start-at-login')).toBeNull();
  });
});
