import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import type { Editor } from '@tiptap/core';
import { createDocEditor, textBetween } from './editor';
import { anchorToRange, base64ToBytes, bytesToBase64, rangeToAnchor } from './anchor';
import { highlightRanges, setActiveHighlight, setHighlights } from './highlight';

const editors: Editor[] = [];

afterEach(() => {
  while (editors.length) editors.pop()!.destroy();
  document.body.innerHTML = '';
});

/** An editor on a fresh Y.Doc, and a second Y.Doc ("someone else") kept in sync both ways. */
function setup(initial: string) {
  const doc = new Y.Doc();
  const other = new Y.Doc();
  doc.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== 'remote') Y.applyUpdate(other, u, 'remote');
  });
  other.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== 'remote') Y.applyUpdate(doc, u, 'remote');
  });
  const element = document.createElement('div');
  document.body.append(element);
  const clicked: string[] = [];
  const editor = createDocEditor({
    element,
    doc,
    awareness: new Awareness(doc),
    user: { name: 'alice', color: '#336699' },
    onHighlightClick: (id) => clicked.push(id),
  });
  editors.push(editor);
  editor.commands.setContent(`<p>${initial}</p>`);
  return { doc, other, editor, element, clicked };
}

/** The ProseMirror range of the first occurrence of `word`. */
function find(editor: Editor, word: string): { from: number; to: number } {
  let found: { from: number; to: number } | null = null;
  editor.state.doc.descendants((node, pos) => {
    if (found || !node.isText) return;
    const at = node.text!.indexOf(word);
    if (at !== -1) found = { from: pos + at, to: pos + at + word.length };
  });
  if (!found) throw new Error(`no ${word}`);
  return found;
}

/** The other doc's paragraph texts (Y.XmlText inside each Y.XmlElement). */
function paragraphText(doc: Y.Doc, index: number): Y.XmlText {
  const p = doc.getXmlFragment('default').get(index) as Y.XmlElement;
  return p.get(0) as Y.XmlText;
}

describe('comment anchors', () => {
  it('base64 round-trips bytes', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 128]);
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
  });

  it('highlight the very first words of a document', () => {
    // y-tiptap alone resolves a text position at the document's start (1) to null.
    const { editor, other } = setup('Ship the desktop app');
    const sel = find(editor, 'Ship the desktop app');
    expect(sel.from).toBe(1);
    const anchor = rangeToAnchor(editor.state, sel.from, sel.to)!;
    setHighlights(editor, [{ id: '1', anchor }]);
    expect(highlightRanges(editor.state)).toEqual([{ id: '1', ...sel }]);
    // A new first paragraph from someone else moves it down, still covering the same words.
    other.transact(() => {
      const p = new Y.XmlElement('paragraph');
      p.insert(0, [new Y.XmlText('Before it')]);
      other.getXmlFragment('default').insert(0, [p]);
    });
    const [range] = highlightRanges(editor.state);
    expect(textBetween(editor, range.from, range.to)).toBe('Ship the desktop app');
  });

  it('follow their words through concurrent inserts made on another Y.Doc', () => {
    const { editor, other } = setup('The quick brown fox jumps');
    const sel = find(editor, 'brown fox');
    const anchor = rangeToAnchor(editor.state, sel.from, sel.to)!;
    expect(anchor).not.toBeNull();
    expect(typeof anchor.start).toBe('string');
    setHighlights(editor, [{ id: '7', anchor }]);
    expect(highlightRanges(editor.state)).toEqual([{ id: '7', ...sel }]);

    // Someone else types before the range: in the same paragraph, right before the range, and a
    // whole new paragraph at the top.
    other.transact(() => {
      paragraphText(other, 0).insert(4, 'very ');
      paragraphText(other, 0).insert('The very quick '.length, 'and slow ');
    });
    other.transact(() => {
      const p = new Y.XmlElement('paragraph');
      p.insert(0, [new Y.XmlText('A new first line.')]);
      other.getXmlFragment('default').insert(0, [p]);
    });
    expect(editor.getText()).toContain('The very quick and slow brown fox jumps');

    const [range] = highlightRanges(editor.state);
    expect(textBetween(editor, range.from, range.to)).toBe('brown fox');
    // The same from the anchor directly, and on the DOM.
    const direct = anchorToRange(editor.state, anchor)!;
    expect(textBetween(editor, direct.from, direct.to)).toBe('brown fox');
    const marks = editor.view.dom.querySelectorAll('.comment-highlight');
    expect(Array.from(marks).map((m) => m.textContent).join('')).toBe('brown fox');
    expect(marks[0].getAttribute('data-comment-id')).toBe('7');
  });

  it('follow local edits, and text typed just before or after stays out', () => {
    const { editor } = setup('one two three');
    const sel = find(editor, 'two');
    const anchor = rangeToAnchor(editor.state, sel.from, sel.to)!;
    setHighlights(editor, [{ id: '1', anchor }]);
    editor.commands.insertContentAt(1, 'zero ');
    editor.commands.insertContentAt(find(editor, 'two').from, 'X');
    editor.commands.insertContentAt(find(editor, 'two').to, 'Y');
    const [range] = highlightRanges(editor.state);
    expect(editor.getText()).toBe('zero one XtwoY three');
    expect(textBetween(editor, range.from, range.to)).toBe('two');
    // Recomputed from Yjs, not only mapped.
    const direct = anchorToRange(editor.state, anchor)!;
    expect(textBetween(editor, direct.from, direct.to)).toBe('two');
  });

  it('grow with text typed inside, and disappear when their text is deleted', () => {
    const { editor, other } = setup('alpha beta gamma');
    const sel = find(editor, 'beta');
    const anchor = rangeToAnchor(editor.state, sel.from, sel.to)!;
    setHighlights(editor, [{ id: '1', anchor }]);
    other.transact(() => paragraphText(other, 0).insert('alpha be'.length, '--'));
    let [range] = highlightRanges(editor.state);
    expect(textBetween(editor, range.from, range.to)).toBe('be--ta');
    other.transact(() => paragraphText(other, 0).delete('alpha '.length, 'be--ta'.length));
    expect(editor.getText()).toBe('alpha  gamma');
    expect(highlightRanges(editor.state)).toEqual([]);
    [range] = highlightRanges(editor.state);
    expect(range).toBeUndefined();
  });

  it('mark the active one and report clicks', () => {
    const { editor, clicked } = setup('red green blue');
    const a = find(editor, 'red');
    const b = find(editor, 'blue');
    setHighlights(editor, [
      { id: '1', anchor: rangeToAnchor(editor.state, a.from, a.to)! },
      { id: '2', anchor: rangeToAnchor(editor.state, b.from, b.to)! },
    ]);
    setActiveHighlight(editor, '2');
    const active = editor.view.dom.querySelectorAll('.comment-highlight-active');
    expect(active).toHaveLength(1);
    expect(active[0].textContent).toBe('blue');
    editor.view.someProp('handleClick', (f) => f(editor.view, b.from + 1, new MouseEvent('click')));
    expect(clicked).toEqual(['2']);
  });
});
