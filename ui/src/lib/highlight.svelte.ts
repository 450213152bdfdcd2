// The code highlighter for markdown.ts, loaded on first use: highlight.js and its languages
// (./hljs.ts, ~80 KB) are a chunk of their own, imported the first time a message has a fenced
// code block that names a language. Until it is there such a block shows as plain escaped text;
// the renders that wanted it read `state.ready`, so the rows showing them render again (now
// highlighted) once it has loaded.
type Highlighter = typeof import('./hljs');

const state = $state({ ready: false });
let highlighter: Highlighter | null = null;
let loading: Promise<void> | null = null;

/** Loads the highlighter (once; again after a failed attempt). */
export function loadHighlighter(): Promise<void> {
  loading ??= import('./hljs').then(
    (module) => {
      highlighter = module;
      state.ready = true;
    },
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}

/** Whether the highlighter is loaded, being loaded, or was not asked for (yet). */
export function highlighterStatus(): 'idle' | 'loading' | 'ready' {
  return highlighter != null ? 'ready' : loading != null ? 'loading' : 'idle';
}

/** Highlighted HTML for `code` in `lang`, or '' when it cannot be (yet): no language, one that
 * is not ours, or the highlighter still loading (its load is started; read from a `$derived`,
 * the call is run again when it is there). The caller escapes the text as it is for ''. */
export function highlightCode(code: string, lang: string): string {
  if (lang.trim() === '') return '';
  if (highlighter != null) return highlighter.highlightCode(code, lang);
  if (!state.ready) loadHighlighter().catch(() => {});
  return '';
}
