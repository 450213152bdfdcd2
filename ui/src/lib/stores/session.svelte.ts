// The session: workspace, signed-in user, keyring, connection, settings. Fed by api.status()
// at startup and by `session` / `settings` / connection events. Read by the chat and the
// documents parts of the UI: `session.status`, `session.user`, `session.settings`.
import type { ConnectionState, HostState, SessionStatus, Settings, UserRef } from '../bindings';

export const DEFAULT_SETTINGS: Settings = {
  notifications: true,
  do_not_disturb: false,
  channel_notifications: {},
  theme: 'system',
  status: null,
  close_to_tray: true,
  start_at_login: false,
};

export class Session {
  status = $state.raw<SessionStatus | null>(null);
  settings = $state.raw<Settings>(DEFAULT_SETTINGS);
  /** The hosted server's state, as its supervisor last reported it (null: nothing reported). */
  host = $state.raw<HostState | null>(null);

  get user(): UserRef | null {
    return this.status?.user ?? null;
  }

  get connection(): ConnectionState | null {
    return this.status?.connection ?? null;
  }

  /** Signed in to a workspace: the main layout shows. */
  get ready(): boolean {
    return this.status?.workspace != null && this.status.user != null;
  }

  setStatus(status: SessionStatus): void {
    this.status = status;
  }

  setConnection(state: ConnectionState): void {
    if (this.status == null) return;
    const user = state.state === 'online' ? state.user : this.status.user;
    this.status = { ...this.status, connection: state, user };
  }

  setSettings(settings: Settings): void {
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
  }
}

export const session = new Session();
