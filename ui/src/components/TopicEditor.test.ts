// The channel header's topic: adding, editing, clearing it in place, by keyboard and by
// button; the server's refusal inline; live changes by others; no control where topics
// cannot be set (direct messages).
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { resetNav, showChannel } from '../lib/nav';
import { chat } from '../lib/stores/chat.svelte';
import { fakeApp } from '../test/fakeApp';
import { bob, channelView, info } from '../test/fixtures';
import TopicEditor from './TopicEditor.svelte';

afterEach(() => {
  chat.clear();
  resetNav();
});

type Call = { cmd: string; args: Record<string, unknown> };

/** The app answering `set_channel_topic` as the server would (blank: cleared), or refusing. */
function server(calls: Call[], refuse: { code: string; message: string } | null = null): void {
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    if (cmd !== 'set_channel_topic') return null;
    if (refuse != null) throw refuse;
    const topic = String(args.topic).trim();
    return info(String(args.name), { topic: topic === '' ? null : topic });
  });
}

const input = () => screen.getByTestId('topic-input') as HTMLInputElement;

describe('the topic editor', () => {
  it('adds a topic: the field is labelled, bounded and focused; Enter saves it for the channel', async () => {
    chat.setChannels([channelView('general')]);
    const calls: Call[] = [];
    server(calls);
    const { rerender } = render(TopicEditor, { channel: 'general', topic: null });
    const add = screen.getByTestId('edit-topic');
    expect(add.textContent).toBe('Add a topic');
    await fireEvent.click(add);
    const field = input();
    expect(screen.getByLabelText('Channel topic')).toBe(field);
    expect(field.maxLength).toBe(500);
    expect(document.activeElement).toBe(field);

    await fireEvent.input(field, { target: { value: 'Release on Friday' } });
    await fireEvent.keyDown(field, { key: 'Enter' });
    await waitFor(() => expect(screen.queryByTestId('topic-input')).toBeNull());
    expect(calls).toEqual([{ cmd: 'set_channel_topic', args: { name: 'general', topic: 'Release on Friday' } }]);
    // The store has it at once (the channel_updated event brings it to everyone else).
    expect(chat.channel('general')?.info.topic).toBe('Release on Friday');

    await rerender({ channel: 'general', topic: 'Release on Friday' });
    expect(screen.getByTestId('channel-topic').textContent).toBe('Release on Friday');
    expect(screen.getByRole('button', { name: 'Edit topic' }).dataset.testid).toBe('edit-topic');
  });

  it('edits the topic in its field; Escape cancels and returns to the button', async () => {
    chat.setChannels([channelView('general', { info: info('general', { topic: 'Old' }) })]);
    const calls: Call[] = [];
    server(calls);
    render(TopicEditor, { channel: 'general', topic: 'Old' });
    const edit = screen.getByRole('button', { name: 'Edit topic' });
    await fireEvent.click(edit);
    expect(input().value).toBe('Old');
    await fireEvent.input(input(), { target: { value: 'Never mind' } });
    await fireEvent.keyDown(input(), { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('topic-input')).toBeNull());
    expect(document.activeElement).toBe(screen.getByTestId('edit-topic'));
    expect(screen.getByTestId('channel-topic').textContent).toBe('Old');
    expect(calls).toEqual([]);

    // Cancel does the same; an unchanged topic saves nothing.
    await fireEvent.click(screen.getByTestId('edit-topic'));
    await fireEvent.click(screen.getByTestId('cancel-topic'));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('edit-topic')));
    await fireEvent.click(screen.getByTestId('edit-topic'));
    await fireEvent.click(screen.getByTestId('save-topic'));
    await waitFor(() => expect(screen.queryByTestId('topic-input')).toBeNull());
    expect(calls).toEqual([]);
  });

  it('clears the topic with an empty field', async () => {
    chat.setChannels([channelView('general', { info: info('general', { topic: 'Old' }) })]);
    const calls: Call[] = [];
    server(calls);
    render(TopicEditor, { channel: 'general', topic: 'Old' });
    await fireEvent.click(screen.getByTestId('edit-topic'));
    await fireEvent.input(input(), { target: { value: '' } });
    await fireEvent.click(screen.getByTestId('save-topic'));
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].args).toEqual({ name: 'general', topic: '' });
    await waitFor(() => expect(chat.channel('general')?.info.topic).toBeNull());
  });

  it('shows the server’s refusal inline and keeps the field', async () => {
    chat.setChannels([channelView('general')]);
    server([], { code: 'not_member', message: "only the channel's members may set its topic" });
    render(TopicEditor, { channel: 'general', topic: null });
    await fireEvent.click(screen.getByTestId('edit-topic'));
    await fireEvent.input(input(), { target: { value: 'Mine now' } });
    await fireEvent.click(screen.getByTestId('save-topic'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe("only the channel's members may set its topic");
    expect(input().value).toBe('Mine now');
    expect(input().getAttribute('aria-describedby')).toBe(alert.id);
    expect(input().getAttribute('aria-invalid')).toBe('true');
    expect(chat.channel('general')?.info.topic).toBeNull();
  });
});

describe('the topic in the channel header', () => {
  it('is set from the header, and follows changes made by others', async () => {
    const app = fakeApp();
    render(App);
    await screen.findByTestId('channel-title');
    await fireEvent.click(await screen.findByTestId('edit-topic'));
    await fireEvent.input(input(), { target: { value: 'Ship it' } });
    await fireEvent.keyDown(input(), { key: 'Enter' });
    await waitFor(() => expect(screen.getByTestId('channel-topic').textContent).toBe('Ship it'));
    expect(app.calls.find((c) => c.cmd === 'set_channel_topic')?.args).toEqual({ name: 'general', topic: 'Ship it' });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Edit topic' })));

    app.push({ kind: 'client', event: { kind: 'channel_updated', channel: 'general', topic: 'Friday instead', by: bob } });
    await waitFor(() => expect(screen.getByTestId('channel-topic').textContent).toBe('Friday instead'));
    app.push({ kind: 'client', event: { kind: 'channel_updated', channel: 'general', topic: null, by: bob } });
    await waitFor(() => expect(screen.getByTestId('edit-topic').textContent).toBe('Add a topic'));
  });

  it('offers no topic control in a direct message, nor to people outside the channel', async () => {
    fakeApp({
      admin: false,
      channels: [
        channelView('dm:1:2', { dm_with: ['bob'], info: info('dm:1:2', { topic: 'alice, bob' }) }),
        channelView('lobby', { info: info('lobby', { member: false, topic: 'Say hello' }) }),
      ],
    });
    render(App);
    await screen.findByTestId('channel-title');
    showChannel('dm:1:2');
    await waitFor(() => expect(screen.getByTestId('channel-title').textContent).toContain('bob'));
    expect(screen.queryByTestId('edit-topic')).toBeNull();
    expect(screen.queryByTestId('topic-input')).toBeNull();
    showChannel('lobby');
    await waitFor(() => expect(screen.getByTestId('channel-title').textContent).toBe('lobby'));
    // The topic shows, read only.
    expect(screen.getByText('Say hello')).toBeTruthy();
    expect(screen.queryByTestId('edit-topic')).toBeNull();
  });
});
