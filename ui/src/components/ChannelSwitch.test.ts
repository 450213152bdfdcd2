// Memory across channels: only the channel on screen keeps its messages; leaving one frees
// them, and coming back loads its newest page from the app (its cache) again.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { resetNav } from '../lib/nav';
import { chat } from '../lib/stores/chat.svelte';
import { fakeApp } from '../test/fakeApp';

afterEach(() => {
  chat.clear();
  resetNav();
});

const rows = () => [...document.querySelectorAll<HTMLElement>('[data-testid=message][data-state=sent]')];
const item = (name: string) => document.querySelector<HTMLElement>(`[data-testid=channel-item][data-channel=${name}]`)!;

describe('switching channels', () => {
  it('drops the timeline of a channel left and reloads it on return', async () => {
    const { calls } = fakeApp();
    render(App);
    await waitFor(() => expect(screen.getByTestId('channel-title').textContent).toBe('general'));
    await waitFor(() => expect(rows()).toHaveLength(3));
    const first = chat.existingTimeline('general');
    expect(first?.messages).toHaveLength(3);
    const newestPages = () => calls.filter((c) => c.cmd === 'history' && c.args.channel === 'general' && c.args.before == null).length;
    expect(newestPages()).toBe(1);

    await fireEvent.click(item('random'));
    await waitFor(() => expect(screen.getByTestId('channel-title').textContent).toBe('random'));
    await waitFor(() => expect(chat.existingTimeline('general')).toBeUndefined());
    expect(chat.existingTimeline('random')).toBeDefined();

    await fireEvent.click(item('general'));
    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(newestPages()).toBe(2);
    expect(chat.existingTimeline('general')).not.toBe(first);
    expect(chat.existingTimeline('random')).toBeUndefined();
  });
});
