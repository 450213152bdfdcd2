// Focus helpers shared by the dialogs, popovers and menus.

/** Focuses an element when it mounts (dialogs, inline forms). */
export function autofocus(node: HTMLElement): void {
  queueMicrotask(() => node.focus());
}

const FOCUSABLE = [
  'a[href]',
  'button:not([disabled])',
  'input:not([disabled]):not([type=hidden])',
  'select:not([disabled])',
  'textarea:not([disabled])',
  '[tabindex]',
  '[contenteditable=true]',
].join(',');

/** The elements Tab reaches inside `root`, in order. */
export function tabbables(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
    (el) => el.tabIndex >= 0 && !el.closest('[inert],[hidden],[aria-hidden=true]'),
  );
}

export type TrapOptions = {
  /** Where focus goes first (a selector inside the node); default: leave it to the node's own
   * autofocus, else the first tabbable element, else the node. */
  initial?: string;
  /** Give focus back to what had it before (default true). */
  restore?: boolean;
};

/** Keeps Tab and Shift+Tab inside `node` (a modal dialog, a popover, an inline confirmation)
 * while it is mounted, and gives focus back to the element that had it before when it goes
 * (if focus is still inside it or nowhere: a click elsewhere keeps its own focus). */
export function trapFocus(node: HTMLElement, options: TrapOptions = {}) {
  const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  let opts = options;

  queueMicrotask(() => {
    if (!node.isConnected || node.contains(document.activeElement)) return;
    const first = (opts.initial != null ? node.querySelector<HTMLElement>(opts.initial) : null) ?? tabbables(node)[0];
    if (first != null) first.focus();
    else {
      if (!node.hasAttribute('tabindex')) node.tabIndex = -1;
      node.focus();
    }
  });

  function keydown(e: KeyboardEvent): void {
    if (e.key !== 'Tab' || e.defaultPrevented) return;
    const list = tabbables(node);
    if (list.length === 0) {
      e.preventDefault();
      return;
    }
    const first = list[0];
    const last = list[list.length - 1];
    const at = document.activeElement;
    if (e.shiftKey && (at === first || at === node || !node.contains(at))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (at === last || !node.contains(at))) {
      e.preventDefault();
      first.focus();
    }
  }
  node.addEventListener('keydown', keydown);

  return {
    update(next: TrapOptions = {}) {
      opts = next;
    },
    destroy() {
      node.removeEventListener('keydown', keydown);
      if (opts.restore === false || before == null) return;
      const at = document.activeElement;
      const lost = at == null || at === document.body || node.contains(at);
      if (!lost) return;
      const back = before;
      // The node may still be in the document while Svelte tears it down: wait for that.
      queueMicrotask(() => {
        const now = document.activeElement;
        if (back.isConnected && (now == null || now === document.body || node.contains(now))) {
          back.focus({ preventScroll: true });
        }
      });
    },
  };
}

/** Whether a key event comes from somewhere that takes text (typed characters are not
 * shortcuts there). */
export function isTextInput(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color', 'file'].includes(target.type);
  }
  return false;
}
