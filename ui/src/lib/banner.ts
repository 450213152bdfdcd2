// What the connection banner says, from the connection state and the outbox.
import type { ConnectionState } from './bindings';

export type Banner = {
  /** Hidden when online with nothing queued. */
  visible: boolean;
  /** The ConnectionState's `state` (or "none"). */
  state: string;
  /** The main sentence (empty when only the queue is shown). */
  text: string;
  /** "N messages queued" when N > 0, else empty. */
  queued: string;
  tone: 'info' | 'warning' | 'error';
};

export function queuedText(n: number): string {
  if (n <= 0) return '';
  return n === 1 ? '1 message queued' : `${n} messages queued`;
}

export function bannerFor(
  connection: ConnectionState | null | undefined,
  queued: number,
  now: number,
): Banner {
  const q = queuedText(queued);
  if (connection == null) {
    return { visible: queued > 0, state: 'none', text: '', queued: q, tone: 'info' };
  }
  switch (connection.state) {
    case 'online':
      return { visible: queued > 0, state: 'online', text: '', queued: q, tone: 'info' };
    case 'connecting':
      return { visible: true, state: 'connecting', text: 'Connecting…', queued: q, tone: 'info' };
    case 'offline': {
      const secs = Math.ceil((connection.retry_at_ms - now) / 1000);
      const text =
        secs > 0 ? `Offline — reconnecting in ${secs} s` : 'Offline — reconnecting…';
      return { visible: true, state: 'offline', text, queued: q, tone: 'warning' };
    }
    case 'version_mismatch':
      return {
        visible: true,
        state: 'version_mismatch',
        text: 'This server speaks another protocol version: update Parley',
        queued: q,
        tone: 'error',
      };
    case 'unauthorized':
      return {
        visible: true,
        state: 'unauthorized',
        text: 'Signed out: sign in again',
        queued: q,
        tone: 'error',
      };
    case 'stopped':
      return { visible: true, state: 'stopped', text: 'Not connected', queued: q, tone: 'warning' };
  }
}
