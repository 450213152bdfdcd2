// New messages for screen readers: one polite live region, bursts counted, not your own.
import { render, screen } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import LiveRegion from '../components/LiveRegion.svelte';
import { Announcer, GATHER_MS, QUIET_MS, announceMessage, announcer } from './announce.svelte';
import { chat } from './stores/chat.svelte';
import { alice, bob, channelView, message } from '../test/fixtures';

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  announcer.reset();
  chat.clear();
  chat.me = null;
});

describe('Announcer', () => {
  it('says one message with its author and place, after a short gathering delay', () => {
    const a = new Announcer();
    a.message(message(1, { text: 'hello' }), '#general');
    expect(a.text).toBe('');
    vi.advanceTimersByTime(GATHER_MS);
    expect(a.text.trim()).toBe('bob in #general: hello');
  });

  it('turns a burst into a count, and rate-limits what follows', () => {
    const a = new Announcer();
    for (let i = 1; i <= 5; i++) a.message(message(i), '#general');
    vi.advanceTimersByTime(GATHER_MS);
    expect(a.text.trim()).toBe('5 new messages in #general');
    // Within the quiet interval: gathered until it ends.
    a.message(message(6), '#general');
    a.message(message(7, { channel: 'random' }), '#random');
    vi.advanceTimersByTime(GATHER_MS);
    expect(a.text.trim()).toBe('5 new messages in #general');
    vi.advanceTimersByTime(QUIET_MS);
    expect(a.text.trim()).toBe('bob in #general: message 6. bob in #random: message 7');
  });

  it('says the same words twice as a change', () => {
    const a = new Announcer();
    a.say('No unread messages');
    const first = a.text;
    a.say('No unread messages');
    expect(a.text).not.toBe(first);
    expect(a.text.trim()).toBe(first.trim());
  });

  it('announces others’ messages through the one polite live region, not your own', () => {
    chat.me = alice;
    chat.setChannels([channelView('general'), channelView('dm1', { dm_with: ['bob'] })]);
    render(LiveRegion);
    const region = screen.getByTestId('live-region');
    expect(region.getAttribute('aria-live')).toBe('polite');
    expect(document.querySelectorAll('[aria-live=polite][data-testid=live-region]')).toHaveLength(1);
    announceMessage(message(1, { author: alice, text: 'my own' }));
    vi.advanceTimersByTime(QUIET_MS);
    expect(announcer.text).toBe('');
    announceMessage(message(2, { author: bob, channel: 'dm1', text: 'psst' }));
    vi.advanceTimersByTime(GATHER_MS);
    expect(announcer.text.trim()).toBe('bob in direct messages with bob: psst');
  });
});
