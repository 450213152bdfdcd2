// Comment highlights: a TipTap extension whose ProseMirror plugin paints the anchored text of every
// open comment (class `comment-highlight`, the selected thread's also `comment-highlight-active`).
// The ranges are worked out from the anchors' Yjs relative positions, so they follow their words
// while others edit:
// - on remote changes (the ySyncPlugin's change-origin transactions), on new comment lists and on
//   the first render: recomputed from the relative positions;
// - on local edits: mapped through the transaction at once (the binding's Y types are only updated
//   in the view update that follows), then recomputed from the relative positions right after and
//   corrected if the two differ.
import { Extension } from '@tiptap/core';
import type { Editor } from '@tiptap/core';
import { Plugin, PluginKey } from '@tiptap/pm/state';
import type { EditorState, Transaction } from '@tiptap/pm/state';
import { Decoration, DecorationSet } from '@tiptap/pm/view';
import type { EditorView } from '@tiptap/pm/view';
import { ySyncPluginKey } from '@tiptap/y-tiptap';
import { anchorToRange } from './anchor';
import type { Anchor } from './anchor';

export interface HighlightAnchor {
  id: string;
  anchor: Anchor;
}

export interface HighlightRange {
  id: string;
  from: number;
  to: number;
}

interface HighlightState {
  anchors: HighlightAnchor[];
  active: string | null;
  ranges: HighlightRange[];
  decorations: DecorationSet;
}

type HighlightMeta =
  | { anchors: HighlightAnchor[] }
  | { active: string | null }
  | { refresh: true };

export const commentHighlightKey = new PluginKey<HighlightState>('commentHighlight');

export interface CommentHighlightOptions {
  /** A highlight was clicked (its comment id, or `p<localId>` for a pending comment). */
  onClick: (id: string) => void;
}

function computeRanges(state: EditorState, anchors: HighlightAnchor[]): HighlightRange[] {
  const ranges: HighlightRange[] = [];
  for (const { id, anchor } of anchors) {
    const range = anchorToRange(state, anchor);
    if (range) ranges.push({ id, ...range });
  }
  return ranges;
}

function decorate(state: EditorState, ranges: HighlightRange[], active: string | null): DecorationSet {
  const decorations = ranges.map((r) =>
    Decoration.inline(
      r.from,
      r.to,
      {
        class: r.id === active ? 'comment-highlight comment-highlight-active' : 'comment-highlight',
        'data-comment-id': r.id,
      },
      { id: r.id },
    ),
  );
  return DecorationSet.create(state.doc, decorations);
}

function sameRanges(a: HighlightRange[], b: HighlightRange[]): boolean {
  if (a.length !== b.length) return false;
  const key = (r: HighlightRange) => `${r.id}:${r.from}:${r.to}`;
  const set = new Set(a.map(key));
  return b.every((r) => set.has(key(r)));
}

/** The ranges of mapped decorations, read back from the set. */
function rangesOf(set: DecorationSet): HighlightRange[] {
  return set.find().map((d) => ({ id: (d.spec as { id: string }).id, from: d.from, to: d.to }));
}

function isRemote(tr: Transaction): boolean {
  const meta = tr.getMeta(ySyncPluginKey) as { isChangeOrigin?: boolean } | undefined;
  return !!meta?.isChangeOrigin;
}

export const CommentHighlight = Extension.create<CommentHighlightOptions>({
  name: 'commentHighlight',

  addOptions() {
    return { onClick: () => {} };
  },

  addProseMirrorPlugins() {
    const options = this.options;
    return [
      new Plugin<HighlightState>({
        key: commentHighlightKey,
        state: {
          init: (_config, state) => ({
            anchors: [],
            active: null,
            ranges: [],
            decorations: DecorationSet.create(state.doc, []),
          }),
          apply: (tr, prev, _oldState, newState) => {
            const meta = tr.getMeta(commentHighlightKey) as HighlightMeta | undefined;
            let { anchors, active } = prev;
            if (meta && 'anchors' in meta) anchors = meta.anchors;
            if (meta && 'active' in meta) active = meta.active;
            if (meta || isRemote(tr) || (!tr.docChanged && prev.ranges.length === 0 && anchors.length > 0)) {
              const ranges = computeRanges(newState, anchors);
              return { anchors, active, ranges, decorations: decorate(newState, ranges, active) };
            }
            if (tr.docChanged) {
              const decorations = prev.decorations.map(tr.mapping, tr.doc);
              return { anchors, active, ranges: rangesOf(decorations), decorations };
            }
            return prev;
          },
        },
        props: {
          decorations: (state) => commentHighlightKey.getState(state)?.decorations,
          handleClick: (view: EditorView, pos: number) => {
            const state = commentHighlightKey.getState(view.state);
            if (!state) return false;
            const hit = state.decorations
              .find(pos, pos)
              .filter((d) => d.from <= pos && pos <= d.to)
              .sort((a, b) => a.to - a.from - (b.to - b.from))[0];
            if (hit) options.onClick((hit.spec as { id: string }).id);
            return false; // the caret still moves there
          },
        },
        view: () => ({
          update: (view: EditorView, prevState: EditorState) => {
            // Local edits: the ySyncPlugin (higher priority, so its view updated first) has now
            // written them to Yjs; check the mapped ranges against the relative positions.
            if (prevState.doc.eq(view.state.doc)) return;
            const state = commentHighlightKey.getState(view.state);
            if (!state || state.anchors.length === 0) return;
            const ranges = computeRanges(view.state, state.anchors);
            if (!sameRanges(ranges, state.ranges)) {
              queueMicrotask(() => {
                if (!view.isDestroyed) view.dispatch(view.state.tr.setMeta(commentHighlightKey, { refresh: true }));
              });
            }
          },
        }),
      }),
    ];
  },
});

/** Shows these anchors (replacing the previous ones). */
export function setHighlights(editor: Editor, anchors: HighlightAnchor[]): void {
  if (editor.isDestroyed) return;
  editor.view.dispatch(editor.state.tr.setMeta(commentHighlightKey, { anchors }));
}

/** Marks one highlight active (null: none). */
export function setActiveHighlight(editor: Editor, id: string | null): void {
  if (editor.isDestroyed) return;
  editor.view.dispatch(editor.state.tr.setMeta(commentHighlightKey, { active: id }));
}

/** The current ranges of the highlights. */
export function highlightRanges(state: EditorState): HighlightRange[] {
  return commentHighlightKey.getState(state)?.ranges ?? [];
}

/** Brings the highlight `id` into view; false when its text is gone. */
export function scrollToHighlight(editor: Editor, id: string): boolean {
  const range = highlightRanges(editor.state).find((r) => r.id === id);
  if (!range) return false;
  try {
    const { node } = editor.view.domAtPos(range.from);
    const element = node instanceof Element ? node : node.parentElement;
    element?.scrollIntoView?.({ block: 'center', behavior: 'smooth' });
  } catch {
    // no layout (tests) or the position went away meanwhile
  }
  return true;
}
