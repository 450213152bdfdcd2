// The TipTap editor of an open document: StarterKit (without its own undo: Collaboration brings a
// Yjs-aware one), bound to the bridge's Y.Doc ("default" XmlFragment), with other people's carets
// from the bridge's awareness and the comment highlights.
import { Editor } from '@tiptap/core';
import StarterKit from '@tiptap/starter-kit';
import Collaboration from '@tiptap/extension-collaboration';
import CollaborationCaret from '@tiptap/extension-collaboration-caret';
import type { Awareness } from 'y-protocols/awareness';
import type * as Y from 'yjs';
import { CommentHighlight } from './highlight';
import type { DocUser } from './bridge';

export interface DocEditorOptions {
  element: HTMLElement;
  doc: Y.Doc;
  awareness: Awareness;
  user: DocUser;
  /** False for viewers and commenters: the server refuses their updates. */
  editable?: boolean;
  /** A comment highlight was clicked. */
  onHighlightClick?: (id: string) => void;
  /** Every transaction (selection moves, edits, remote changes). */
  onTransaction?: (editor: Editor) => void;
}

/** The caret of someone else: a coloured bar with their name. */
function renderCaret(user: Record<string, unknown>): HTMLElement {
  const color = typeof user.color === 'string' ? user.color : '#888888';
  const caret = document.createElement('span');
  caret.className = 'collaboration-carets__caret';
  caret.style.borderColor = color;
  const label = document.createElement('div');
  label.className = 'collaboration-carets__label';
  label.style.backgroundColor = color;
  label.textContent = typeof user.name === 'string' ? user.name : 'someone';
  caret.append(label);
  return caret;
}

export function createDocEditor(options: DocEditorOptions): Editor {
  return new Editor({
    element: options.element,
    editable: options.editable ?? true,
    extensions: [
      StarterKit.configure({
        undoRedo: false,
        link: { openOnClick: false, autolink: true },
      }),
      Collaboration.configure({ document: options.doc, field: 'default' }),
      // CollaborationCaret only uses `provider.awareness`.
      CollaborationCaret.configure({
        provider: { awareness: options.awareness },
        user: { name: options.user.name, color: options.user.color },
        render: renderCaret,
      }),
      CommentHighlight.configure({ onClick: options.onHighlightClick ?? (() => {}) }),
    ],
    editorProps: {
      attributes: { spellcheck: 'true', 'aria-label': 'Document content' },
    },
    onTransaction: ({ editor }) => options.onTransaction?.(editor),
  });
}

/** The plain text of a range, for a comment's quote (blocks separated by a space). */
export function textBetween(editor: Editor, from: number, to: number): string {
  return editor.state.doc.textBetween(from, to, ' ', ' ').replace(/\s+/g, ' ').trim();
}

/** A read-only editor showing a Y.Doc that is not the live one (a named version): the same
 * schema as the document's editor, no carets, no comment highlights. */
export function createVersionViewer(element: HTMLElement, doc: Y.Doc): Editor {
  return new Editor({
    element,
    editable: false,
    extensions: [
      StarterKit.configure({ undoRedo: false, link: { openOnClick: false } }),
      Collaboration.configure({ document: doc, field: 'default' }),
    ],
    editorProps: {
      attributes: { 'aria-label': 'Content of the version', 'aria-readonly': 'true' },
    },
  });
}
