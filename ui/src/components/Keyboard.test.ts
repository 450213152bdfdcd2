// The timeline and the app by keyboard alone: roving focus through the messages, the action
// keys on a focused message, Up in the empty composer, jump to unread, the shortcuts help.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import App from '../App.svelte';
import { announcer } from '../lib/announce.svelte';
import { resetNav } from '../lib/nav';
import { chat } from '../lib/stores/chat.svelte';
import { ui } from '../lib/stores/ui.svelte';
import { fakeApp } from '../test/fakeApp';
import { alice, message } from '../test/fixtures';

afterEach(() => {
  chat.clear();
  resetNav();
  ui.help = false;
  ui.thread = null;
  announcer.reset();
});

const rows = () => [...document.querySelectorAll<HTMLElement>('[data-testid=message][data-state=sent]')];
const focusedSeq = () => (document.activeElement as HTMLElement | null)?.dataset.seq;

async function opened(): Promise<void> {
  await screen.findByTestId('channel-title');
  await waitFor(() => expect(rows().length).toBeGreaterThan(0));
}

describe('keyboard', () => {
  it('moves through the messages with Up/Down/Home/End, one row in the Tab order', async () => {
    fakeApp();
    render(App);
    await opened();
    // The newest message is the one Tab reaches.
    expect(rows().map((r) => r.tabIndex)).toEqual([-1, -1, 0]);
    const list = screen.getByTestId('message-list');
    // From the list itself, Up enters at the remembered (newest) row.
    list.focus();
    await fireEvent.keyDown(list, { key: 'ArrowUp' });
    await waitFor(() => expect(focusedSeq()).toBe('4'));
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowUp' });
    await waitFor(() => expect(focusedSeq()).toBe('2'));
    expect(rows().map((r) => r.tabIndex)).toEqual([-1, 0, -1]);
    await fireEvent.keyDown(document.activeElement!, { key: 'Home' });
    await waitFor(() => expect(focusedSeq()).toBe('1'));
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowUp' });
    expect(focusedSeq()).toBe('1');
    await fireEvent.keyDown(document.activeElement!, { key: 'End' });
    await waitFor(() => expect(focusedSeq()).toBe('4'));
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowDown' });
    expect(focusedSeq()).toBe('4');
    // Rows are announced by author and time, described by their text.
    const row = document.activeElement as HTMLElement;
    expect(row.getAttribute('aria-label')).toMatch(/^alice, /);
    expect(document.getElementById(row.getAttribute('aria-describedby')!)?.textContent).toContain('mine');
  });

  it('keeps the keyboard in the list when the focused row is unmounted', async () => {
    fakeApp();
    render(App);
    await opened();
    rows()[1].focus();
    // The row goes (deleted elsewhere): the list itself takes focus, Up goes on from there.
    chat.existingTimeline('general')?.remove(1002);
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(document.activeElement).toBe(screen.getByTestId('message-list'));
    await fireEvent.keyDown(document.activeElement!, { key: 'ArrowUp' });
    await waitFor(() => expect(focusedSeq()).toBe('4'));
  });

  it('reacts, opens the thread, edits and deletes from the focused message; Escape to the composer', async () => {
    const app = fakeApp();
    render(App);
    await opened();
    const mine = rows()[2];
    mine.focus();

    // r: the emoji picker, focus in its search; Escape closes it and focus comes back.
    await fireEvent.keyDown(mine, { key: 'r' });
    const picker = await screen.findByRole('dialog', { name: 'Pick a reaction' });
    expect(picker.contains(document.activeElement)).toBe(true);
    await fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Pick a reaction' })).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(mine));

    // e: edit in place; Escape cancels, back on the row.
    await fireEvent.keyDown(mine, { key: 'e' });
    const box = await screen.findByRole('textbox', { name: 'Edit message' });
    await waitFor(() => expect(document.activeElement).toBe(box));
    await fireEvent.keyDown(box, { key: 'Escape' });
    await waitFor(() => expect(document.activeElement).toBe(rows()[2]));

    // Delete: the confirmation, focus on its Delete button; Tab stays inside it.
    await fireEvent.keyDown(rows()[2], { key: 'Delete' });
    const confirm = await screen.findByRole('alertdialog', { name: 'Delete this message?' });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('confirm-delete')));
    await fireEvent.keyDown(document.activeElement!, { key: 'Tab' });
    expect(confirm.contains(document.activeElement)).toBe(true);
    await fireEvent.keyDown(document.activeElement!, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByRole('alertdialog')).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(rows()[2]));
    await fireEvent.keyDown(rows()[2], { key: 'Backspace' });
    await fireEvent.click(await screen.findByTestId('confirm-delete'));
    await waitFor(() => expect(app.calls.some((c) => c.cmd === 'delete_message')).toBe(true));

    // Someone else's message: no edit, no delete; t opens its thread.
    const theirs = rows()[0];
    theirs.focus();
    await fireEvent.keyDown(theirs, { key: 'e' });
    await fireEvent.keyDown(theirs, { key: 'Delete' });
    expect(screen.queryByRole('textbox', { name: 'Edit message' })).toBeNull();
    expect(screen.queryByRole('alertdialog')).toBeNull();
    await fireEvent.keyDown(theirs, { key: 't' });
    expect(ui.thread).toEqual({ channel: 'general', messageId: 1001 });
    ui.thread = null;

    // Escape: back to the composer.
    rows()[0].focus();
    await fireEvent.keyDown(rows()[0], { key: 'Escape' });
    expect(document.activeElement).toBe(screen.getByTestId('composer'));
  });

  it('edits your last message with Up in the empty composer, then returns there', async () => {
    const app = fakeApp();
    render(App);
    await opened();
    const composer = screen.getByTestId('composer');
    composer.focus();
    await fireEvent.keyDown(composer, { key: 'ArrowUp' });
    const box = (await screen.findByRole('textbox', { name: 'Edit message' })) as HTMLTextAreaElement;
    expect(box.value).toBe('mine');
    await waitFor(() => expect(document.activeElement).toBe(box));
    await fireEvent.input(box, { target: { value: 'mine, edited' } });
    await fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() =>
      expect(app.calls).toContainEqual({ cmd: 'edit_message', args: { channel: 'general', messageId: 1004, text: 'mine, edited' } }),
    );
    await waitFor(() => expect(document.activeElement).toBe(composer));

    // Not when the composer has text.
    await fireEvent.input(composer, { target: { value: 'draft' } });
    await fireEvent.keyDown(composer, { key: 'ArrowUp' });
    expect(screen.queryByRole('textbox', { name: 'Edit message' })).toBeNull();
  });

  it('jumps to the first unread message with Alt+Shift+U', async () => {
    const history = [1, 2, 3, 4, 5].map((s) => message(s, s === 1 ? { author: alice } : {}));
    fakeApp({ history, lastRead: 2, unread: 3 });
    render(App);
    await opened();
    screen.getByTestId('composer').focus();
    await fireEvent.keyDown(window, { key: 'U', code: 'KeyU', altKey: true, shiftKey: true });
    await waitFor(() => expect(focusedSeq()).toBe('3'));
    expect(screen.getByRole('separator', { name: 'New messages' })).toBeTruthy();
  });

  it('says so when nothing is unread', async () => {
    fakeApp();
    render(App);
    await opened();
    await fireEvent.keyDown(window, { key: 'Ï', code: 'KeyU', altKey: true, shiftKey: true });
    await waitFor(() => expect(screen.getByTestId('live-region').textContent).toContain('No unread messages'));
  });

  it('opens the shortcuts help with Ctrl+/ or ?, traps focus and gives it back', async () => {
    fakeApp();
    render(App);
    await opened();
    const composer = screen.getByTestId('composer');
    composer.focus();
    // ? in the composer is text, not a shortcut.
    await fireEvent.keyDown(composer, { key: '?' });
    expect(screen.queryByRole('dialog', { name: 'Keyboard shortcuts' })).toBeNull();
    await fireEvent.keyDown(composer, { key: '/', ctrlKey: true });
    const help = await screen.findByRole('dialog', { name: 'Keyboard shortcuts' });
    expect(help.getAttribute('aria-modal')).toBe('true');
    expect(help.textContent).toContain('Alt+Shift+U');
    expect(help.textContent).toContain('Edit your last message');
    const close = screen.getByRole('button', { name: 'Close keyboard shortcuts' });
    await waitFor(() => expect(document.activeElement).toBe(close));
    // The only button: Tab and Shift+Tab stay on it.
    await fireEvent.keyDown(close, { key: 'Tab' });
    expect(document.activeElement).toBe(close);
    await fireEvent.keyDown(close, { key: 'Tab', shiftKey: true });
    expect(document.activeElement).toBe(close);
    await fireEvent.keyDown(close, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Keyboard shortcuts' })).toBeNull());
    await waitFor(() => expect(document.activeElement).toBe(composer));

    // ? from a message row.
    rows()[0].focus();
    await fireEvent.keyDown(rows()[0], { key: '?' });
    expect(await screen.findByRole('dialog', { name: 'Keyboard shortcuts' })).toBeTruthy();
  });
});
