// Every keyboard shortcut of the app, for the shortcuts help panel (Ctrl+/ or ?). docs/app.md
// §4 lists the same (a test compares them).

export type Shortcut = { keys: string; where: string; does: string };
export type ShortcutGroup = { title: string; items: Shortcut[] };

export const SHORTCUTS: ShortcutGroup[] = [
  {
    title: 'Anywhere',
    items: [
      { keys: 'Ctrl+K', where: 'anywhere', does: 'Open search' },
      { keys: 'Ctrl+N', where: 'anywhere', does: 'Documents view, with the new-document form open' },
      { keys: 'Alt+Up / Alt+Down', where: 'anywhere', does: 'Previous / next conversation in the sidebar' },
      { keys: 'Alt+Shift+U', where: 'a conversation', does: 'Jump to the first unread message (the New line)' },
      { keys: 'Ctrl+/ or ?', where: 'anywhere (? outside text fields)', does: 'Show these shortcuts' },
      { keys: 'Escape', where: 'anywhere', does: 'Close the topmost panel: shortcuts, search, settings, thread, members, new channel' },
    ],
  },
  {
    title: 'Messages',
    items: [
      { keys: 'Up', where: 'empty composer', does: 'Edit your last message' },
      { keys: 'Up / Down', where: 'message list', does: 'Previous / next message' },
      { keys: 'Home / End', where: 'message list', does: 'First / last loaded message' },
      { keys: 'R or +', where: 'a focused message', does: 'Add a reaction (opens the emoji picker)' },
      { keys: 'T', where: 'a focused message', does: 'Reply in thread' },
      { keys: 'E', where: 'your focused message', does: 'Edit it' },
      { keys: 'Delete or Backspace', where: 'your focused message', does: 'Delete it (asks first)' },
      { keys: 'Escape', where: 'a focused message', does: 'Back to the composer' },
    ],
  },
  {
    title: 'Composing',
    items: [
      { keys: 'Enter / Shift+Enter', where: 'composer', does: 'Send / new line' },
      { keys: 'Up, Down, Enter or Tab, Escape', where: '@ and : suggestions', does: 'Choose, insert, close' },
      { keys: 'Enter / Escape', where: 'editing a message', does: 'Save / cancel' },
    ],
  },
  {
    title: 'Panels and pickers',
    items: [
      { keys: 'Down, arrows, Home, End, Enter, Up', where: 'emoji picker', does: 'Into the grid, move, pick; back to the search' },
      { keys: 'Up, Down, Enter', where: 'search', does: 'Choose a hit, open it' },
      { keys: 'Tab / Shift+Tab', where: 'dialogs, pickers and menus', does: 'Move within it (focus stays inside until it closes)' },
      { keys: 'Escape', where: 'emoji picker, menus, image viewer, forms', does: 'Close, back to where you were' },
    ],
  },
  {
    title: 'Documents',
    items: [
      { keys: 'Ctrl+Alt+M', where: 'document, with a selection', does: 'Comment on the selection' },
      { keys: 'Ctrl+Enter / Escape', where: 'comment or reply form', does: 'Send / cancel' },
      { keys: 'Ctrl+Z, Ctrl+Y, Ctrl+Shift+Z', where: 'document', does: 'Undo your changes, redo' },
    ],
  },
];
