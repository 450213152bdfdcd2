// Header popovers (mute, invite): Escape closes them without reaching the views behind.

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
