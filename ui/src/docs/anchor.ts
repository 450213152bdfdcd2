// Comment anchors: a ProseMirror range <-> two Yjs relative positions (base64 of
// Y.encodeRelativePosition, as the server stores them). Relative positions point at Yjs items, so
// the range follows its words while others insert or delete around them.
import * as Y from 'yjs';
import type { EditorState } from '@tiptap/pm/state';
import {
  absolutePositionToRelativePosition,
  relativePositionToAbsolutePosition,
  ySyncPluginKey,
} from '@tiptap/y-tiptap';

export interface Anchor {
  start: string;
  end: string;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The binding's map from Yjs types to ProseMirror nodes (y-tiptap's ProsemirrorMapping, which
 * its index does not export). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ProsemirrorMapping = Map<Y.AbstractType<any>, any>;

interface SyncState {
  doc: Y.Doc;
  type: Y.XmlFragment;
  binding: { mapping: ProsemirrorMapping } | null;
}

/** The ySyncPlugin's state (the Y.Doc, the fragment and the binding's node mapping), or null
 * while the binding is not ready. */
export function syncState(state: EditorState): SyncState | null {
  const ystate = ySyncPluginKey.getState(state) as SyncState | undefined;
  if (!ystate || !ystate.doc || !ystate.type || !ystate.binding) return null;
  return ystate;
}

/** The anchor of the ProseMirror range `from..to`, or null if the editor is not bound yet. */
export function rangeToAnchor(state: EditorState, from: number, to: number): Anchor | null {
  const ystate = syncState(state);
  if (!ystate) return null;
  const mapping = ystate.binding!.mapping;
  const start = stickRight(
    ystate.doc,
    absolutePositionToRelativePosition(from, ystate.type, mapping) as Y.RelativePosition,
  );
  const end = absolutePositionToRelativePosition(to, ystate.type, mapping) as Y.RelativePosition;
  return {
    start: bytesToBase64(Y.encodeRelativePosition(start)),
    end: bytesToBase64(Y.encodeRelativePosition(end)),
  };
}

/** y-tiptap's positions stick to the character before them (assoc -1). The start of a range
 * should stick to its first character instead, so that text typed just before the range stays
 * out of it (the end keeps sticking to the range's last character). */
function stickRight(doc: Y.Doc, rp: Y.RelativePosition): Y.RelativePosition {
  if (rp.assoc >= 0) return rp;
  const abs = Y.createAbsolutePositionFromRelativePosition(rp, doc);
  if (abs && abs.type instanceof Y.XmlText && abs.index < abs.type.length) {
    return Y.createRelativePositionFromTypeIndex(abs.type, abs.index, 0);
  }
  return rp;
}

/** Decoded anchors, cached: decoding runs for every comment on every transaction. */
const decoded = new Map<string, Y.RelativePosition | null>();

function decode(text: string): Y.RelativePosition | null {
  let rp = decoded.get(text);
  if (rp === undefined) {
    try {
      rp = Y.decodeRelativePosition(base64ToBytes(text));
    } catch {
      rp = null;
    }
    if (decoded.size > 5000) decoded.clear();
    decoded.set(text, rp);
  }
  return rp;
}

/** Where the anchor is now in the editor's document: `{from, to}` with from < to, or null when
 * its text is gone (deleted) or the anchor belongs to another document. */
export function anchorToRange(
  state: EditorState,
  anchor: Anchor,
): { from: number; to: number } | null {
  const ystate = syncState(state);
  if (!ystate) return null;
  const startRp = decode(anchor.start);
  const endRp = decode(anchor.end);
  if (!startRp || !endRp) return null;
  const mapping = ystate.binding!.mapping;
  let from: number | null;
  let to: number | null;
  try {
    from = toAbsolute(ystate.doc, ystate.type, startRp, mapping);
    to = toAbsolute(ystate.doc, ystate.type, endRp, mapping);
  } catch {
    return null;
  }
  if (from === null || to === null) return null;
  const size = state.doc.content.size;
  from = Math.max(0, Math.min(from, size));
  to = Math.max(0, Math.min(to, size));
  if (to < from) [from, to] = [to, from];
  if (from === to) return null;
  return { from, to };
}

/** y-tiptap's relativePositionToAbsolutePosition, except at the very start of the document:
 * y-tiptap treats a text position resolving to 1 (the first character) as misresolved and
 * returns null, which would drop the highlight of a comment on a document's first words. So
 * when y-tiptap refuses, the position is worked out here the same way (offset in its text,
 * plus the sizes of the nodes before it on the way up to the fragment). */
function toAbsolute(
  doc: Y.Doc,
  fragment: Y.XmlFragment,
  rp: Y.RelativePosition,
  mapping: ProsemirrorMapping,
): number | null {
  const resolved = relativePositionToAbsolutePosition(doc, fragment, rp, mapping);
  if (resolved !== null) return resolved;
  const abs = Y.createAbsolutePositionFromRelativePosition(rp, doc);
  if (abs === null || !(abs.type instanceof Y.XmlText)) return null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let type: Y.AbstractType<any> = abs.type;
  if (type._item === null || !Y.isParentOf(fragment, type._item)) return null;
  let pos = abs.index;
  while (type !== fragment && type._item !== null) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const parent = type._item.parent as Y.AbstractType<any>;
    if (parent._item !== null && parent._item.deleted) return null;
    pos += 1; // the parent's start tag
    for (let n = parent._start; n !== null; n = n.right as Y.Item | null) {
      const child = (n.content as Y.ContentType).type;
      if (child === type) break;
      if (n.deleted) continue;
      if (child instanceof Y.XmlText) {
        pos += child._length;
      } else {
        const node = mapping.get(child);
        if (node == null || Array.isArray(node)) return null;
        pos += node.nodeSize;
      }
    }
    type = parent;
  }
  return pos - 1; // the fragment itself has no tag
}
