// The web app's settings, kept in the browser's localStorage (the desktop keeps them in its
// data directory).
import type { MyStatus, Settings } from '../bindings';

const KEY = 'parley.settings';

function notificationsAllowed(): boolean {
  return typeof Notification !== 'undefined' && Notification.permission === 'granted';
}

export function defaultSettings(): Settings {
  return {
    // On only once the browser allows them (turning them on in Settings asks).
    notifications: notificationsAllowed(),
    do_not_disturb: false,
    channel_notifications: {},
    theme: 'system',
    status: null,
    // The desktop app's (no tray or autostart in a browser).
    close_to_tray: false,
    start_at_login: false,
  };
}

export function loadSettings(storage: Storage | undefined = globalThis.localStorage): Settings {
  const base = defaultSettings();
  try {
    const raw = storage?.getItem(KEY);
    if (raw == null) return base;
    const saved = JSON.parse(raw) as Partial<Settings>;
    return {
      notifications: typeof saved.notifications === 'boolean' ? saved.notifications : base.notifications,
      do_not_disturb: saved.do_not_disturb === true,
      channel_notifications:
        saved.channel_notifications != null && typeof saved.channel_notifications === 'object'
          ? saved.channel_notifications
          : {},
      theme: typeof saved.theme === 'string' ? saved.theme : base.theme,
      status: validStatus(saved.status),
      close_to_tray: base.close_to_tray,
      start_at_login: base.start_at_login,
    };
  } catch {
    return base;
  }
}

/** A saved status, if it is one (`away`/`dnd`, a text, an expiry). */
function validStatus(value: unknown): MyStatus | null {
  if (value == null || typeof value !== 'object') return null;
  const s = value as Partial<MyStatus>;
  if (s.status !== 'away' && s.status !== 'dnd') return null;
  return {
    status: s.status,
    text: typeof s.text === 'string' ? s.text.slice(0, 140) : null,
    until: typeof s.until === 'number' ? s.until : null,
  };
}

export function saveSettings(settings: Settings, storage: Storage | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(KEY, JSON.stringify(settings));
  } catch {
    // Storage full or blocked: the settings last for this page.
  }
}
