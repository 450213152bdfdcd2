import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import EmojiPicker from './EmojiPicker.svelte';

function picker() {
  const onPick = vi.fn();
  const onClose = vi.fn();
  render(EmojiPicker, { onPick, onClose });
  return { onPick, onClose };
}

const cells = () => [...document.querySelectorAll<HTMLButtonElement>('[aria-label="Pick a reaction"] button.emoji')];

beforeEach(() => localStorage.clear());

describe('EmojiPicker', () => {
  it('opens on the search field and shows smileys from the bundled data', async () => {
    const { onPick } = picker();
    expect(screen.getByRole('dialog', { name: 'Pick a reaction' })).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText('Search emoji'));
    await waitFor(() => expect(cells().length).toBeGreaterThan(100));
    expect(cells()[0].textContent).toBe('😀');
    expect(screen.getByRole('tab', { name: 'Smileys & emotion' }).getAttribute('aria-selected')).toBe('true');
    await fireEvent.click(cells()[0]);
    expect(onPick).toHaveBeenCalledWith('😀');
  });

  it('searches by name, keyword or shortcode; Enter picks the first match', async () => {
    const { onPick } = picker();
    await waitFor(() => expect(cells().length).toBeGreaterThan(0));
    const search = screen.getByLabelText('Search emoji');
    await fireEvent.input(search, { target: { value: 'thumbs' } });
    expect(cells().slice(0, 2).map((b) => b.textContent)).toEqual(['👍', '👎']);
    expect(cells()[0].title).toBe('thumbs up :+1:');
    await fireEvent.input(search, { target: { value: 'tada' } });
    expect(cells()[0].textContent).toBe('🎉');
    await fireEvent.keyDown(search, { key: 'Enter' });
    expect(onPick).toHaveBeenCalledWith('🎉');
    await fireEvent.input(search, { target: { value: 'qqqzzz' } });
    expect(cells()).toHaveLength(0);
    expect(screen.getByText('No emoji match “qqqzzz”.')).toBeTruthy();
  });

  it('moves through the grid with the keyboard and closes on Escape', async () => {
    const { onPick, onClose } = picker();
    await waitFor(() => expect(cells().length).toBeGreaterThan(20));
    const search = screen.getByLabelText('Search emoji');
    await fireEvent.keyDown(search, { key: 'ArrowDown' });
    expect(document.activeElement).toBe(cells()[0]);
    await fireEvent.keyDown(cells()[0], { key: 'ArrowRight' });
    expect(document.activeElement).toBe(cells()[1]);
    await fireEvent.keyDown(cells()[1], { key: 'ArrowDown' });
    expect(document.activeElement).toBe(cells()[9]);
    expect(cells()[9].tabIndex).toBe(0);
    expect(cells()[0].tabIndex).toBe(-1);
    await fireEvent.keyDown(cells()[9], { key: 'ArrowUp' });
    await fireEvent.keyDown(cells()[1], { key: 'ArrowUp' });
    expect(document.activeElement).toBe(search);
    await fireEvent.keyDown(search, { key: 'ArrowDown' });
    await fireEvent.keyDown(cells()[0], { key: 'End' });
    expect(document.activeElement).toBe(cells().at(-1));
    await fireEvent.keyDown(document.activeElement as HTMLElement, { key: 'Escape' });
    expect(onClose).toHaveBeenCalled();
    expect(onPick).not.toHaveBeenCalled();
  });

  it('switches categories with the tabs and arrow keys', async () => {
    picker();
    await waitFor(() => expect(cells().length).toBeGreaterThan(0));
    const smileys = screen.getByRole('tab', { name: 'Smileys & emotion' });
    await fireEvent.keyDown(smileys, { key: 'ArrowRight' });
    const people = screen.getByRole('tab', { name: 'People & body' });
    expect(people.getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe(people);
    expect(cells()[0].textContent).toBe('👋');
    await fireEvent.click(screen.getByRole('tab', { name: 'Flags' }));
    expect(cells()[0].textContent).toBe('🏁');
  });

  it('applies and remembers a skin tone', async () => {
    const { onPick } = picker();
    await waitFor(() => expect(cells().length).toBeGreaterThan(0));
    await fireEvent.click(screen.getByRole('button', { name: 'Skin tone: No skin tone' }));
    await fireEvent.click(screen.getByRole('radio', { name: 'Dark skin tone' }));
    expect(localStorage.getItem('parley.emoji.tone')).toBe('5');
    await fireEvent.input(screen.getByLabelText('Search emoji'), { target: { value: 'thumbsup' } });
    expect(cells()[0].textContent).toBe('👍🏿');
    await fireEvent.click(cells()[0]);
    expect(onPick).toHaveBeenCalledWith('👍🏿');
  });

  it('opens on the recently used, most recent first', async () => {
    localStorage.setItem('parley.emoji.recent', JSON.stringify(['🎉', '👍🏿']));
    const { onPick } = picker();
    expect(screen.getByRole('tab', { name: 'Recently used' }).getAttribute('aria-selected')).toBe('true');
    await waitFor(() => expect(cells().map((b) => b.textContent)).toEqual(['🎉', '👍🏿']));
    expect(cells()[0].getAttribute('aria-label')).toBe('party popper');
    await fireEvent.click(cells()[1]);
    expect(onPick).toHaveBeenCalledWith('👍🏿');
    expect(JSON.parse(localStorage.getItem('parley.emoji.recent') ?? '[]')).toEqual(['👍🏿', '🎉']);
  });
});
