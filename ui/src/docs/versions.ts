// Named versions of a document, on the UI's side: loading a version's state (a base64 Yjs
// update, from `doc_version`) into a Y.Doc of its own for a read-only look, and restoring it as a
// new edit of the live document (the editor's Y.Doc, bound to the bridge): the live content is
// replaced by copies of the version's, in one transaction, so the change reaches the server like
// any edit and the document's history keeps everything before it.
import * as Y from 'yjs';

/** The XmlFragment the editor binds (TipTap's Collaboration `field`, DocBridge.fragment). */
export const CONTENT_ROOT = 'default';

/** The origin of a restore's transaction (not the bridge's REMOTE: it is sent like an edit). */
export const RESTORE_ORIGIN = 'restore-version';

/** Standard base64 to bytes. */
export function decodeBase64(data: string): Uint8Array {
  const bin = atob(data.replace(/\s+/g, ''));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** A fresh Y.Doc holding a version's state (base64 or raw Yjs v1 update). Destroy it when done. */
export function versionDoc(update: string | Uint8Array): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, typeof update === 'string' ? decodeBase64(update) : update);
  return doc;
}

/** Whether a version has rich-text content the editor can show (documents written by other
 * clients may only have other roots: their text is shown instead). */
export function hasContent(doc: Y.Doc, root = CONTENT_ROOT): boolean {
  return doc.getXmlFragment(root).length > 0;
}

/**
 * Restores `version`'s content into `live` as a new edit: inside one transaction, deletes what
 * `live`'s content root holds and inserts clones of the version's children. Only the content
 * root changes (comments and other roots stay). Returns whether anything was changed (a version
 * equal to the live content still makes a new edit: the content is replaced all the same).
 */
export function restoreVersion(
  live: Y.Doc,
  version: Y.Doc,
  root = CONTENT_ROOT,
  origin: unknown = RESTORE_ORIGIN,
): boolean {
  const target = live.getXmlFragment(root);
  const source = version.getXmlFragment(root);
  // XmlHooks (which TipTap never makes) are inserted the same way: the cast only narrows the type.
  const copies = source.toArray().map((node) => node.clone()) as (Y.XmlElement | Y.XmlText)[];
  if (target.length === 0 && copies.length === 0) return false;
  live.transact(() => {
    if (target.length > 0) target.delete(0, target.length);
    if (copies.length > 0) target.insert(0, copies);
  }, origin);
  return true;
}

/** "just now", "5 min ago", or the date and time, for a version's list. */
export function versionTime(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
