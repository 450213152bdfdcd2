// Syntax highlighting of fenced code blocks in messages: highlight.js's core with a handful of
// common languages registered (bundled: nothing is fetched, no eval). Its output is escaped
// text inside `<span class="hljs-…">`, so it stays safe for `{@html}`; the colours are theme
// variables in app.css. A chunk of its own, imported by highlight.svelte.ts the first time a
// message has a fenced block that names a language: few do, and the app's start does not
// carry it.
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import ini from 'highlight.js/lib/languages/ini';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const LANGUAGES = { bash, c, cpp, css, diff, go, ini, java, javascript, json, python, rust, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);
// Names people write after ``` that the languages above do not already answer to.
hljs.registerAliases(['shell', 'sh', 'console'], { languageName: 'bash' });

/** The languages a fenced block can name (with their aliases, e.g. `js`, `py`, `rs`, `html`). */
export const HIGHLIGHTED_LANGUAGES = Object.keys(LANGUAGES);

/** Highlighted HTML for `code` in `lang`, or '' when the language is not one of ours (the
 * caller then escapes the text as it is). */
export function highlightCode(code: string, lang: string): string {
  const name = lang.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (name === '' || hljs.getLanguage(name) == null) return '';
  try {
    return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
  } catch {
    return '';
  }
}
