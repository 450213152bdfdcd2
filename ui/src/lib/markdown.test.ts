import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadHighlighter } from './highlight.svelte';
import { MARKDOWN_CACHE_MAX, markdownCache, mentionedNames, renderMarkdown } from './markdown';

function dom(html: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

describe('renderMarkdown', () => {
  it('escapes HTML and script', () => {
    const html = renderMarkdown('<script>alert(1)</script> <img src=x onerror=alert(1)> <b>bold</b>');
    const el = dom(html);
    expect(el.querySelector('script')).toBeNull();
    expect(el.querySelector('img')).toBeNull();
    expect(el.querySelector('b')).toBeNull();
    expect(el.textContent).toContain('<script>alert(1)</script>');
  });

  it('renders markdown formatting', () => {
    const el = dom(renderMarkdown('**bold** _it_ `code`\n\n- a\n- b'));
    expect(el.querySelector('strong')?.textContent).toBe('bold');
    expect(el.querySelector('em')?.textContent).toBe('it');
    expect(el.querySelector('code')?.textContent).toBe('code');
    expect(el.querySelectorAll('li')).toHaveLength(2);
  });

  it('drops javascript:, data: and vbscript: links', () => {
    for (const url of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', '/relative']) {
      const el = dom(renderMarkdown(`[click](${url})`));
      expect(el.querySelector('a'), url).toBeNull();
    }
  });

  it('keeps http, https and mailto links, opened outside the app', () => {
    const el = dom(renderMarkdown('[site](https://example.org) http://a.example mail@example.org [m](mailto:x@example.org)'));
    const links = [...el.querySelectorAll('a')];
    expect(links.map((a) => a.getAttribute('href'))).toEqual([
      'https://example.org',
      'http://a.example',
      'mailto:mail@example.org',
      'mailto:x@example.org',
    ]);
    for (const a of links) {
      expect(a.getAttribute('target')).toBe('_blank');
      expect(a.getAttribute('rel')).toContain('noopener');
    }
  });

  it('does not load images', () => {
    const el = dom(renderMarkdown('![x](https://tracker.example/p.png)'));
    expect(el.querySelector('img')).toBeNull();
  });

  it('highlights mentions, more strongly for me, @channel and @here', () => {
    const el = dom(renderMarkdown('hi @bob and @alice, see @channel. Mail a@b.example', 'alice'));
    const mentions = [...el.querySelectorAll('.mention')];
    expect(mentions.map((m) => m.textContent)).toEqual(['@bob', '@alice', '@channel']);
    expect(mentions.map((m) => m.classList.contains('mention-me'))).toEqual([false, true, true]);
    expect(el.textContent).toContain('a@b.example');
  });

  it('does not let a mention carry markup', () => {
    const el = dom(renderMarkdown('@"><b>x</b>'));
    expect(el.querySelector('b')).toBeNull();
    expect(el.querySelector('.mention')).toBeNull();
  });

  it('finds mentioned names', () => {
    expect(mentionedNames('@Alice hi @bob. not a@b.c')).toEqual(['alice', 'bob']);
  });
});

describe('the cache of rendered texts', () => {
  it('keeps at most MARKDOWN_CACHE_MAX texts, dropping the least recently used', () => {
    for (let i = 0; i < MARKDOWN_CACHE_MAX; i++) renderMarkdown(`cache test ${i}`);
    expect(markdownCache.size()).toBe(MARKDOWN_CACHE_MAX);
    expect(markdownCache.has('cache test 0')).toBe(true);
    // Used again: now the most recent, so 'cache test 1' is the oldest and goes first.
    expect(renderMarkdown('cache test 0')).toBe('<p>cache test 0</p>');
    renderMarkdown('cache test new');
    expect(markdownCache.size()).toBe(MARKDOWN_CACHE_MAX);
    expect(markdownCache.has('cache test new')).toBe(true);
    expect(markdownCache.has('cache test 0')).toBe(true);
    expect(markdownCache.has('cache test 1')).toBe(false);
    expect(markdownCache.has('cache test 2')).toBe(true);
    // A text dropped renders again, the same.
    expect(renderMarkdown('cache test 1')).toBe('<p>cache test 1</p>');
    expect(markdownCache.has('cache test 2')).toBe(false);
    expect(markdownCache.size()).toBe(MARKDOWN_CACHE_MAX);
  });

  it('keeps a text per signed-in user (mentions of oneself render differently)', () => {
    const mine = renderMarkdown('hi @cachealice', 'cachealice');
    const theirs = renderMarkdown('hi @cachealice', 'cachebob');
    expect(mine).toContain('mention-me');
    expect(theirs).not.toContain('mention-me');
    expect(markdownCache.has('hi @cachealice', 'cachealice')).toBe(true);
    expect(markdownCache.has('hi @cachealice', 'cachebob')).toBe(true);
  });
});

describe('code blocks before the highlighter has loaded', () => {
  it('shows a block as plain escaped text, loads the highlighter, and highlights it after', async () => {
    // Fresh modules: no highlighter loaded yet (other tests here load it).
    vi.resetModules();
    const markdown = await import('./markdown');
    const highlight = await import('./highlight.svelte');
    expect(highlight.highlighterStatus()).toBe('idle');
    const src = '```js\nconst a = "<b>x</b>";\n```';
    const plain = dom(markdown.renderMarkdown(src));
    expect(plain.querySelector('pre code')?.textContent).toBe('const a = "<b>x</b>";\n');
    expect(plain.querySelector('pre code span')).toBeNull();
    expect(plain.querySelector('b')).toBeNull();
    // Not cached unhighlighted; the render started the highlighter's load.
    expect(markdown.markdownCache.has(src)).toBe(false);
    expect(highlight.highlighterStatus()).toBe('loading');
    await highlight.loadHighlighter();
    expect(highlight.highlighterStatus()).toBe('ready');
    const done = dom(markdown.renderMarkdown(src));
    expect(done.querySelector('pre code .hljs-keyword')?.textContent).toBe('const');
    expect(done.querySelector('b')).toBeNull();
    expect(markdown.markdownCache.has(src)).toBe(true);
  });

  it('does not load it for texts without a fenced block that names a language', async () => {
    vi.resetModules();
    const markdown = await import('./markdown');
    const highlight = await import('./highlight.svelte');
    const el = dom(markdown.renderMarkdown('plain `code` and\n```\n<b>no</b> language\n```'));
    expect(el.querySelector('pre code')?.textContent).toBe('<b>no</b> language\n');
    expect(highlight.highlighterStatus()).toBe('idle');
    expect(markdown.markdownCache.has('plain `code` and\n```\n<b>no</b> language\n```')).toBe(true);
  });
});

describe('code blocks', () => {
  beforeAll(() => loadHighlighter());

  it('highlights a fenced block that names a language, with escaped text only', () => {
    const el = dom(renderMarkdown('```js\nconst a = "<b>x</b>"; // note\n```'));
    const code = el.querySelector('pre code');
    expect(code?.className).toBe('language-js');
    expect(code?.querySelector('.hljs-keyword')?.textContent).toBe('const');
    expect(code?.querySelector('.hljs-string')?.textContent).toBe('"<b>x</b>"');
    expect(code?.querySelector('.hljs-comment')?.textContent).toBe('// note');
    expect(code?.querySelector('b')).toBeNull();
    expect(code?.textContent).toBe('const a = "<b>x</b>"; // note\n');
    // Only spans with hljs classes: no attribute beyond class, no script.
    for (const span of code?.querySelectorAll('*') ?? []) {
      expect(span.tagName).toBe('SPAN');
      expect([...span.attributes].map((a) => a.name)).toEqual(['class']);
    }
  });

  it('knows the common languages by their usual names', () => {
    const samples: Record<string, string> = {
      rust: 'fn main() { let x = 1; }',
      rs: 'let x: u32 = 1;',
      python: 'def f(): return 1',
      py: 'import os',
      ts: 'const x: number = 1;',
      js: 'let x = 1;',
      bash: 'echo "hi"',
      sh: 'if true; then echo 1; fi',
      json: '{"a": 1}',
      go: 'func main() {}',
      sql: 'SELECT 1 FROM t;',
      yaml: 'a: 1',
      toml: '[table]\nkey = "v"',
      html: '<p class="x">hi</p>',
      c: 'int main(void) { return 0; }',
      cpp: 'int main() { return 0; }',
      java: 'public class A {}',
      css: '.a { color: red; }',
      diff: '+added\n-removed',
    };
    for (const [lang, sample] of Object.entries(samples)) {
      const el = dom(renderMarkdown('```' + lang + '\n' + sample + '\n```'));
      expect(el.querySelector('pre code span'), lang).not.toBeNull();
    }
  });

  it('leaves a block without a language, or with an unknown one, as plain escaped text', () => {
    for (const src of ['```\n<i>x</i> if\n```', '```klingon\n<i>x</i> if\n```']) {
      const el = dom(renderMarkdown(src));
      expect(el.querySelector('pre code')?.textContent).toBe('<i>x</i> if\n');
      expect(el.querySelector('pre code span')).toBeNull();
      expect(el.querySelector('i')).toBeNull();
    }
  });
});
