import { mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown';
import { externalLink, openLinksOutside } from './links';

describe('links', () => {
  let undo: () => void = () => {};
  afterEach(() => {
    undo();
    document.body.innerHTML = '';
  });

  it('opens a message link with the system handler, not in the window', async () => {
    const opened: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'plugin:opener|open_url') opened.push(args);
      return null;
    });
    undo = openLinksOutside(document);
    document.body.innerHTML = renderMarkdown('see https://example.com/parley?x=1 now');
    const a = document.querySelector('a');
    expect(a).not.toBeNull();
    const click = new MouseEvent('click', { bubbles: true, cancelable: true, button: 0 });
    a?.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    await expect.poll(() => opened).toEqual([{ url: 'https://example.com/parley?x=1' }]);
  });

  it('leaves other clicks alone', () => {
    document.body.innerHTML = '<a href="#top">top</a><button>b</button><a href="file:///etc/passwd">f</a>';
    const [top, file] = [...document.querySelectorAll('a')];
    expect(externalLink(top)).toBeNull();
    expect(externalLink(file)).toBeNull();
    expect(externalLink(document.querySelector('button'))).toBeNull();
    expect(externalLink(null)).toBeNull();
  });

  it('finds the link from an element inside it', () => {
    document.body.innerHTML = '<a href="mailto:team@example.com"><em>mail</em></a>';
    expect(externalLink(document.querySelector('em'))).toBe('mailto:team@example.com');
  });
});
