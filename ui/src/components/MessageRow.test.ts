// A message row: a code block is plain text first, highlighted once the highlighter (a chunk
// loaded on first use) is there; the toolbar's icons are drawn only while it shows.
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { highlighterStatus } from '../lib/highlight.svelte';
import { message } from '../test/fixtures';
import MessageRow from './MessageRow.svelte';

describe('MessageRow', () => {
  it('renders a code block again, highlighted, once the highlighter has loaded', async () => {
    expect(highlighterStatus()).toBe('idle');
    const m = message(1, { text: 'look:\n```rust\nfn main() { let x = "<i>1</i>"; }\n```' });
    const { container } = render(MessageRow, { props: { message: m } });
    const code = () => container.querySelector('[data-testid=message-text] pre code');
    // At first: the text as it is, escaped (the load it started is under way).
    expect(code()?.textContent).toBe('fn main() { let x = "<i>1</i>"; }\n');
    expect(code()?.querySelector('span')).toBeNull();
    await waitFor(() => expect(code()?.querySelector('.hljs-keyword')?.textContent).toBe('fn'));
    expect(highlighterStatus()).toBe('ready');
    expect(code()?.textContent).toBe('fn main() { let x = "<i>1</i>"; }\n');
    expect(code()?.querySelector('i')).toBeNull();
    expect(container.querySelector('[data-testid=message-text] p')?.textContent).toBe('look:');
  });

  it('draws the toolbar icons only while the row is hovered or holds the focus', async () => {
    const { container } = render(MessageRow, { props: { message: message(2) } });
    const article = container.querySelector<HTMLElement>('article')!;
    const toolbar = container.querySelector<HTMLElement>('[role=toolbar]')!;
    const icons = () => toolbar.querySelectorAll('svg').length;
    // The buttons are there (and named) all the time.
    const names = [...toolbar.querySelectorAll('button')].map((b) => b.getAttribute('aria-label'));
    expect(names).toEqual(['Add reaction', 'Reply in thread']);
    expect(icons()).toBe(0);
    // (jsdom has no PointerEvent: mouse events of the pointer types carry relatedTarget.)
    const pointer = (type: string, target: Element, relatedTarget: Element | null) =>
      fireEvent(target, new MouseEvent(type, { bubbles: true, relatedTarget }));
    await pointer('pointerover', article.querySelector('[data-testid=message-text]')!, null);
    expect(icons()).toBe(2);
    // Moving within the row keeps them; leaving it drops them.
    await pointer('pointerout', article, toolbar);
    expect(icons()).toBe(2);
    await pointer('pointerout', article, document.body);
    expect(icons()).toBe(0);
    await fireEvent.focusIn(article);
    expect(icons()).toBe(2);
    await fireEvent.focusOut(article, { relatedTarget: null });
    expect(icons()).toBe(0);
    // The reaction picker open keeps the toolbar (and its icons) shown.
    await fireEvent.click(toolbar.querySelector('[aria-label="Add reaction"]')!);
    expect(icons()).toBe(2);
  });
});
