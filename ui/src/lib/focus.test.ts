// The shared focus trap: Tab cycles inside, focus goes back where it was afterwards.
import { fireEvent } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { isTextInput, trapFocus } from './focus';

afterEach(() => {
  document.body.innerHTML = '';
});

const flush = () => new Promise<void>((r) => setTimeout(r, 0));

function setup() {
  document.body.innerHTML = `
    <button id="opener">open</button>
    <div id="dialog"><button id="a">a</button><input id="b" /><button id="c" disabled>c</button><button id="d">d</button></div>`;
  const opener = document.getElementById('opener') as HTMLButtonElement;
  opener.focus();
  const dialog = document.getElementById('dialog') as HTMLElement;
  return { opener, dialog, trap: trapFocus(dialog) };
}

describe('trapFocus', () => {
  it('focuses the first tabbable element, cycles Tab and Shift+Tab inside', async () => {
    const { dialog } = setup();
    await flush();
    const a = document.getElementById('a')!;
    const d = document.getElementById('d')!;
    expect(document.activeElement).toBe(a);
    await fireEvent.keyDown(a, { key: 'Tab', shiftKey: true });
    expect(document.activeElement).toBe(d);
    await fireEvent.keyDown(d, { key: 'Tab' });
    expect(document.activeElement).toBe(a);
    expect(dialog.contains(document.activeElement)).toBe(true);
  });

  it('gives focus back to the opener when it goes, unless focus moved elsewhere', async () => {
    const first = setup();
    await flush();
    first.dialog.remove();
    first.trap.destroy();
    await flush();
    expect(document.activeElement).toBe(first.opener);

    const second = setup();
    await flush();
    const other = document.createElement('input');
    document.body.append(other);
    other.focus();
    second.trap.destroy();
    await flush();
    expect(document.activeElement).toBe(other);
  });

  it('honours an initial selector', async () => {
    document.body.innerHTML = '<div id="x"><button>one</button><button class="go">two</button></div>';
    trapFocus(document.getElementById('x')!, { initial: '.go' });
    await flush();
    expect(document.activeElement?.textContent).toBe('two');
  });
});

describe('isTextInput', () => {
  it('tells text fields from other controls', () => {
    document.body.innerHTML = '<input id="t"><input id="c" type="checkbox"><textarea id="a"></textarea><button id="b"></button>';
    const el = (id: string) => document.getElementById(id);
    expect(isTextInput(el('t'))).toBe(true);
    expect(isTextInput(el('a'))).toBe(true);
    expect(isTextInput(el('c'))).toBe(false);
    expect(isTextInput(el('b'))).toBe(false);
  });
});
