import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it } from 'vitest';
import { chat } from '../lib/stores/chat.svelte';
import { alice, entry } from '../test/fixtures';
import Composer from './Composer.svelte';

type Call = { cmd: string; args: Record<string, unknown> };

function setup(): Call[] {
  const calls: Call[] = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: args as Record<string, unknown> });
    if (cmd === 'send_message') return entry(1, { body: (args as { text: string }).text });
    return null;
  });
  chat.clear();
  chat.me = alice;
  return calls;
}

afterEach(() => chat.clear());

describe('Composer', () => {
  it('sends on Enter and shows the message as pending at once', async () => {
    const calls = setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: 'hello there' } });
    const notPrevented = await fireEvent.keyDown(box, { key: 'Enter' });
    expect(notPrevented).toBe(false);
    await waitFor(() => expect(calls.some((c) => c.cmd === 'send_message')).toBe(true));
    const send = calls.find((c) => c.cmd === 'send_message');
    expect(send?.args).toEqual({ channel: 'general', text: 'hello there', attachments: [] });
    await waitFor(() => expect(box.value).toBe(''));
    expect(chat.pending('general').map((e) => e.body)).toEqual(['hello there']);
  });

  it('keeps Shift+Enter for a new line', async () => {
    const calls = setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer');
    await fireEvent.input(box, { target: { value: 'line one' } });
    const notPrevented = await fireEvent.keyDown(box, { key: 'Enter', shiftKey: true });
    expect(notPrevented).toBe(true);
    expect(calls.some((c) => c.cmd === 'send_message')).toBe(false);
  });

  it('does not send blank text', async () => {
    const calls = setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer');
    await fireEvent.input(box, { target: { value: '   ' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    expect(calls.some((c) => c.cmd === 'send_message')).toBe(false);
  });

  it('tells the channel someone is typing, at most every 3 seconds', async () => {
    const calls = setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer');
    await fireEvent.input(box, { target: { value: 'h' } });
    await fireEvent.input(box, { target: { value: 'he' } });
    await fireEvent.input(box, { target: { value: 'hey' } });
    expect(calls.filter((c) => c.cmd === 'typing')).toHaveLength(1);
  });

  it('offers channel members, @channel and @here after @', async () => {
    const calls = setup();
    render(Composer, { channel: 'general', placeholder: 'Message general', members: ['bob', 'bella', 'alice'] });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    box.value = 'hi @b';
    box.setSelectionRange(5, 5);
    await fireEvent.input(box);
    const options = screen.getAllByRole('option').map((o) => o.textContent?.trim());
    expect(options).toEqual(['@bob', '@bella']);
    await fireEvent.keyDown(box, { key: 'ArrowDown' });
    await fireEvent.keyDown(box, { key: 'Enter' });
    expect(box.value).toBe('hi @bella ');
    expect(calls.some((c) => c.cmd === 'send_message')).toBe(false);

    box.value = 'hi @bella @';
    box.setSelectionRange(11, 11);
    await fireEvent.input(box);
    const all = screen.getAllByRole('option').map((o) => o.textContent?.replace(/\s+/g, ' ').trim());
    expect(all).toContain('@channel everyone in the channel');
    expect(all).toContain('@here everyone online');
    expect(all.some((o) => o?.startsWith('@alice'))).toBe(false); // not oneself
  });

  it('shows a refusal and keeps the text', async () => {
    mockIPC((cmd) => {
      if (cmd === 'send_message') throw { code: 'invalid', message: 'the message is too long' };
      return null;
    });
    chat.me = alice;
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: 'x' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('the message is too long'));
    expect(box.value).toBe('x');
  });
});
