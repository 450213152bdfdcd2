// The UI's heaviest JavaScript, timed in the `jsc` shell (scripts/measure-js-tiers.sh) to
// compare JavaScriptCore's tiers (docs/benchmarks.md, "Desktop app"): a document replica typing
// the editing trace one keystroke per transaction and encoding each update (what the editor's
// provider does), the same document opened from its stored state, and 2,000 chat messages
// rendered from markdown with the UI's parser. `TRACE_PATH` is set by the script.
import * as Y from 'yjs';
import MarkdownIt from 'markdown-it';

/* global readFile, print, TRACE_PATH */
const trace = JSON.parse(readFile(TRACE_PATH));
const keystrokes = trace.txns.reduce((n, t) => n + t.patches.length, 0);

let t0 = Date.now();
const doc = new Y.Doc();
const text = doc.getText('t');
let encoded = 0;
doc.on('update', (u) => (encoded += u.length));
for (const txn of trace.txns) {
  for (const [pos, del, ins] of txn.patches) {
    doc.transact(() => {
      if (del) text.delete(pos, del);
      if (ins) text.insert(pos, ins);
    });
  }
}
const typed = Date.now() - t0;
if (text.toString() !== trace.endContent) throw new Error('the replayed text differs from the trace');

t0 = Date.now();
const state = Y.encodeStateAsUpdate(doc);
const reopened = new Y.Doc();
Y.applyUpdate(reopened, state);
if (reopened.getText('t').toString() !== trace.endContent) throw new Error('the reopened text differs');
const opened = Date.now() - t0;

const md = new MarkdownIt({ linkify: true });
const samples = [
  '**bold** and _italic_ with `code` and a link https://parley.example/x',
  '- one\n- two\n- three',
  '> quoted\n\nreply with ~~strike~~ and a [link](https://parley.example/y)',
  '```\nfn main() {}\n```',
];
t0 = Date.now();
let html = 0;
for (let i = 0; i < 2000; i++) html += md.render(`${samples[i % samples.length]} ${i}`).length;
const rendered = Date.now() - t0;

print(
  `typing: ${keystrokes} keystrokes in ${typed} ms (${((typed * 1000) / keystrokes).toFixed(1)} us each, ${encoded} update bytes); ` +
    `opening: ${state.length} bytes in ${opened} ms; markdown: 2000 messages in ${rendered} ms (${html} bytes of HTML)`,
);
