import { describe, expect, it } from 'vitest';
import { alice } from '../test/fixtures';
import { bannerFor, queuedText } from './banner';

describe('connection banner', () => {
  const now = 1_000_000;

  it('is hidden when online with nothing queued', () => {
    expect(bannerFor({ state: 'online', user: alice }, 0, now).visible).toBe(false);
  });

  it('shows the queue when online with messages queued', () => {
    const b = bannerFor({ state: 'online', user: alice }, 3, now);
    expect(b).toMatchObject({ visible: true, state: 'online', queued: '3 messages queued' });
    expect(queuedText(1)).toBe('1 message queued');
  });

  it('counts down to the next attempt when offline', () => {
    const off = { state: 'offline', retry_at_ms: now + 4200, reason: 'connection refused' } as const;
    expect(bannerFor(off, 0, now).text).toBe('Offline — reconnecting in 5 s');
    expect(bannerFor(off, 0, now + 3500).text).toBe('Offline — reconnecting in 1 s');
    expect(bannerFor(off, 2, now + 5000)).toMatchObject({
      text: 'Offline — reconnecting…',
      queued: '2 messages queued',
      state: 'offline',
    });
  });

  it('says what to do for the other states', () => {
    expect(bannerFor({ state: 'connecting', attempt: 2 }, 0, now).text).toBe('Connecting…');
    expect(bannerFor({ state: 'version_mismatch', message: 'v2' }, 0, now).text).toBe(
      'This server speaks another protocol version: update Parley',
    );
    expect(bannerFor({ state: 'unauthorized' }, 0, now).text).toBe('Signed out: sign in again');
    expect(bannerFor({ state: 'unauthorized' }, 0, now).tone).toBe('error');
  });
});
