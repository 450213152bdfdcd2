import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CONTENT_ROOT, RESTORE_ORIGIN, decodeBase64, hasContent, restoreVersion, versionDoc } from './versions';

/** A paragraph as TipTap stores it: <paragraph> holding formatted text. */
function paragraph(text: string, bold?: string): Y.XmlElement {
  const p = new Y.XmlElement('paragraph');
  const t = new Y.XmlText();
  t.insert(0, text);
  if (bold) t.insert(text.length, bold, { bold: true });
  p.insert(0, [t]);
  return p;
}

function heading(text: string, level: number): Y.XmlElement {
  const h = new Y.XmlElement('heading');
  h.setAttribute('level', String(level));
  const t = new Y.XmlText();
  t.insert(0, text);
  h.insert(0, [t]);
  return h;
}

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function xml(doc: Y.Doc): string {
  return doc.getXmlFragment(CONTENT_ROOT).toString();
}

describe('named versions', () => {
  it('decodes standard base64', () => {
    expect([...decodeBase64('AAEC/w==')]).toEqual([0, 1, 2, 255]);
    expect([...decodeBase64('')]).toEqual([]);
  });

  it('restores a version into the live document as a new edit', () => {
    const live = new Y.Doc();
    const content = live.getXmlFragment(CONTENT_ROOT);
    content.insert(0, [heading('Plan', 1), paragraph('Ship on ', 'Monday')]);
    const comments = live.getMap('meta');
    comments.set('kept', true);
    const savedXml = xml(live);
    // The server's version: the whole state as one update, in base64.
    const snapshot = base64(Y.encodeStateAsUpdate(live));

    // Edited since: text changed, a paragraph added, one removed.
    (content.get(1) as Y.XmlElement).delete(0, 1);
    content.insert(2, [paragraph('Later: ', 'everything')]);
    content.delete(0, 1);
    expect(xml(live)).not.toBe(savedXml);

    // A peer that had everything up to now (the server, another editor).
    const peer = new Y.Doc();
    Y.applyUpdate(peer, Y.encodeStateAsUpdate(live));

    const version = versionDoc(snapshot);
    expect(hasContent(version)).toBe(true);
    expect(xml(version)).toBe(savedXml);

    const updates: { update: Uint8Array; origin: unknown }[] = [];
    live.on('update', (update: Uint8Array, origin: unknown) => updates.push({ update, origin }));
    expect(restoreVersion(live, version)).toBe(true);

    expect(xml(live)).toBe(savedXml);
    expect(live.getXmlFragment(CONTENT_ROOT).toJSON()).toBe(version.getXmlFragment(CONTENT_ROOT).toJSON());
    // Formatting comes along (the clone keeps the text's attributes).
    const restoredText = (live.getXmlFragment(CONTENT_ROOT).get(1) as Y.XmlElement).get(0) as Y.XmlText;
    expect(restoredText.toDelta()).toEqual([{ insert: 'Ship on ' }, { insert: 'Monday', attributes: { bold: true } }]);
    // Other roots stay as they were.
    expect(live.getMap('meta').get('kept')).toBe(true);

    // One transaction, one update, with the restore's origin (the bridge sends it like an edit).
    expect(updates).toHaveLength(1);
    expect(updates[0].origin).toBe(RESTORE_ORIGIN);
    // The peer gets the version's content from that update alone: history is appended to.
    Y.applyUpdate(peer, updates[0].update);
    expect(xml(peer)).toBe(savedXml);

    // The version's doc is untouched, and can be restored again.
    expect(xml(version)).toBe(savedXml);
    version.destroy();
  });

  it('restores an empty version by emptying the content, and does nothing when both are empty', () => {
    const empty = versionDoc(Y.encodeStateAsUpdate(new Y.Doc()));
    expect(hasContent(empty)).toBe(false);

    const live = new Y.Doc();
    let updates = 0;
    live.on('update', () => updates++);
    expect(restoreVersion(live, empty)).toBe(false);
    expect(updates).toBe(0);

    live.getXmlFragment(CONTENT_ROOT).insert(0, [paragraph('draft')]);
    updates = 0;
    expect(restoreVersion(live, empty)).toBe(true);
    expect(xml(live)).toBe('');
    expect(updates).toBe(1);
  });

  it('merges with concurrent edits like any other change', () => {
    const a = new Y.Doc();
    a.getXmlFragment(CONTENT_ROOT).insert(0, [paragraph('one')]);
    const version = versionDoc(Y.encodeStateAsUpdate(a));
    a.getXmlFragment(CONTENT_ROOT).insert(1, [paragraph('two')]);
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));

    // b adds a paragraph while a restores: both changes survive in both.
    b.getXmlFragment(CONTENT_ROOT).insert(2, [paragraph('three')]);
    restoreVersion(a, version);
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(xml(a)).toBe(xml(b));
    expect(xml(a)).toBe('<paragraph>one</paragraph><paragraph>three</paragraph>');
  });
});
