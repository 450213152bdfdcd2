// Header popovers (mute, invite): Escape closes them without reaching the views behind
// (focus.ts trapFocus keeps Tab inside them and gives focus back to their button).

/** A keydown handler that closes the popover on Escape while `isOpen()`. */
export function closeOnEscape(isOpen: () => boolean, close: () => void): (e: KeyboardEvent) => void {
  return (e) => {
    if (e.key === 'Escape' && isOpen()) {
      e.preventDefault();
      e.stopPropagation();
      close();
    }
  };
}
