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

  it('attaches an image pasted from the clipboard, like the file picker', async () => {
    // jsdom's Blob has no arrayBuffer(); the webviews' do. Read it through FileReader here.
    Object.defineProperty(Blob.prototype, 'arrayBuffer', {
      configurable: true,
      value(this: Blob) {
        return new Promise<ArrayBuffer>((resolve) => {
          const reader = new FileReader();
          reader.onload = () => resolve(reader.result as ArrayBuffer);
          reader.readAsArrayBuffer(this);
        });
      },
    });
    const calls = setup();
    const uploaded: { name: string; bytes: number[] }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      if (cmd === 'upload_bytes') {
        const a = args as { name: string; bytes: number[] };
        uploaded.push({ name: a.name, bytes: a.bytes });
        return 41;
      }
      if (cmd === 'send_message') return entry(1, { body: (args as { text: string }).text });
      return null;
    });
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    const png = new File([new Uint8Array([137, 80, 78, 71])], 'image.png', { type: 'image/png' });
    const notPrevented = await fireEvent.paste(box, {
      clipboardData: { files: [png], items: [], getData: () => '' },
    });
    expect(notPrevented).toBe(false);
    const list = await screen.findByRole('list', { name: 'Attachments' });
    expect(list.textContent).toMatch(/Pasted image \d{4}-\d\d-\d\d \d\d\.\d\d\.\d\d\.png/);
    await waitFor(() => expect(uploaded).toHaveLength(1));
    expect(uploaded[0].bytes).toEqual([137, 80, 78, 71]);
    expect(uploaded[0].name).toMatch(/^Pasted image .*\.png$/);
    await fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(calls.some((c) => c.cmd === 'send_message')).toBe(true));
    expect(calls.find((c) => c.cmd === 'send_message')?.args.attachments).toEqual([41]);
  });

  it('leaves a text paste alone, even when the clipboard also holds a picture of it', async () => {
    const calls = setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer');
    const png = new File([new Uint8Array([1])], 'image.png', { type: 'image/png' });
    for (const clipboardData of [
      { files: [], items: [], getData: (t: string) => (t === 'text/plain' ? 'hello' : '') },
      { files: [png], items: [], getData: (t: string) => (t === 'text/plain' ? 'A1\tB1' : '') },
    ]) {
      const notPrevented = await fireEvent.paste(box, { clipboardData });
      expect(notPrevented).toBe(true);
    }
    expect(screen.queryByRole('list', { name: 'Attachments' })).toBeNull();
    expect(calls.some((c) => c.cmd === 'upload_bytes')).toBe(false);
  });

  it('completes :shortcodes: from a listbox (arrows, Enter or Tab, Escape)', async () => {
    const calls = setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    box.value = 'nice :thu';
    box.setSelectionRange(9, 9);
    await fireEvent.input(box);
    const list = await screen.findByRole('listbox', { name: 'Emoji' });
    const options = screen.getAllByRole('option');
    expect(options[0].textContent?.replace(/\s+/g, ' ').trim()).toBe('👍 :thumbsup:');
    // One row per emoji (👍 is also :+1:).
    const shown = options.map((o) => o.querySelector('.emoji')?.textContent);
    expect(new Set(shown).size).toBe(shown.length);
    expect(box.getAttribute('aria-controls')).toBe(list.id);
    expect(box.getAttribute('aria-activedescendant')).toBe(options[0].id);
    expect(options[0].getAttribute('aria-selected')).toBe('true');
    await fireEvent.keyDown(box, { key: 'ArrowDown' });
    expect(box.getAttribute('aria-activedescendant')).toBe(options[1].id);
    await fireEvent.keyDown(box, { key: 'ArrowUp' });
    await fireEvent.keyDown(box, { key: 'Tab' });
    expect(box.value).toBe('nice 👍');
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(calls.some((c) => c.cmd === 'send_message')).toBe(false);

    box.value = 'nice 👍 :tad';
    box.setSelectionRange(box.value.length, box.value.length);
    await fireEvent.input(box);
    await screen.findByRole('listbox', { name: 'Emoji' });
    await fireEvent.keyDown(box, { key: 'Escape' });
    expect(screen.queryByRole('listbox')).toBeNull();
    expect(box.value).toBe('nice 👍 :tad');

    // Not after a letter or digit: times and URLs stay as they are.
    box.value = 'at 10:30 see http://x:80';
    await fireEvent.input(box);
    expect(screen.queryByRole('listbox')).toBeNull();
  });

  it('turns a complete :shortcode: typed with its closing colon into the emoji', async () => {
    setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    box.value = 'ok :th';
    box.setSelectionRange(6, 6);
    await fireEvent.input(box);
    await screen.findByRole('listbox', { name: 'Emoji' });
    box.value = 'ok :thumbsup: then';
    box.setSelectionRange(13, 13);
    await fireEvent.input(box);
    await waitFor(() => expect(box.value).toBe('ok 👍 then'));
    expect(box.selectionStart).toBe('ok 👍'.length);
    box.value = 'ok 👍 then :nosuchcode:';
    box.setSelectionRange(box.value.length, box.value.length);
    await fireEvent.input(box);
    expect(box.value).toBe('ok 👍 then :nosuchcode:');
  });

  it('inserts an emoji from the picker at the caret', async () => {
    setup();
    render(Composer, { channel: 'general', placeholder: 'Message general' });
    const box = screen.getByTestId('composer') as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: 'hello world' } });
    box.setSelectionRange(5, 5);
    await fireEvent.click(screen.getByRole('button', { name: 'Insert emoji' }));
    const dialog = screen.getByRole('dialog', { name: 'Insert an emoji' });
    await fireEvent.input(screen.getByLabelText('Search emoji'), { target: { value: 'wave' } });
    await waitFor(() => expect(dialog.querySelector('button.emoji')?.textContent).toBe('👋'));
    await fireEvent.click(dialog.querySelector('button.emoji') as HTMLButtonElement);
    await waitFor(() => expect(box.value).toBe('hello👋 world'));
    expect(screen.queryByRole('dialog')).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe(box));
    expect(box.selectionStart).toBe('hello👋'.length);
  });
});
