// Routes every push from the app (api.subscribe) to the stores.
import type { AppEvent, ClientEvent, SessionStatus } from '../api';
import { announceMessage } from '../announce.svelte';
import { emitAppEvent } from '../events';
import { showChannelOrThread } from '../actions';
import { showChannel, showDocs } from '../nav';
import { chat } from './chat.svelte';
import { dashboard } from './dashboard.svelte';
import { session } from './session.svelte';

export function handleAppEvent(event: AppEvent): void {
  switch (event.kind) {
    case 'client': {
      const ev = event.event;
      if (ev.kind === 'connection') {
        session.setConnection(ev.state);
        chat.me = session.user;
      } else {
        chat.apply(ev);
        // Announced to screen readers (rate-limited; not this user's own messages).
        if (ev.kind === 'message') announceMessage(ev.message);
      }
      break;
    }
    case 'session':
      applyStatus(event.status);
      break;
    case 'activity':
      chat.activity(event.channel, event.head, event.unread, event.mentions);
      break;
    case 'navigate':
      // A notification for a mention in a document's comment opens the document; one for a
      // thread reply opens the thread beside its channel.
      if (event.doc != null) showDocs(event.doc);
      else showChannelOrThread(event.channel).catch(() => showChannel(event.channel));
      break;
    case 'settings':
      session.setSettings(event.settings);
      break;
    case 'host':
      session.host = event.state;
      break;
  }
  // Then to every other listener (the documents view's comments, ...).
  emitAppEvent(event);
}

/** A new session status (from a command's answer or a `session` event). A different user
 * (or none) clears the chat state. */
export function applyStatus(status: SessionStatus): void {
  const before = session.user?.id ?? null;
  session.setStatus(status);
  const after = status.user?.id ?? null;
  if (after !== before) {
    chat.clear();
    dashboard.clear();
    chat.me = status.user;
    if (after != null) chat.effects.reloadChannels();
  } else {
    chat.me = status.user;
  }
}
