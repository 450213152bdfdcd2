// The web build's ../links.ts: external links (`target="_blank"`, markdown.ts) open in a new
// tab, never in place of the app, and get no reference to it.
const OPENABLE = /^(https?:\/\/|mailto:)/i;

/** The external address a click on `target` follows, if any. */
export function externalLink(target: EventTarget | null): string | null {
  if (!(target instanceof Element)) return null;
  const a = target.closest('a[href]');
  const href = a?.getAttribute('href') ?? '';
  return OPENABLE.test(href) ? href : null;
}

/** Opens clicked external links in a new tab (without `window.opener`); returns the undo. */
export function openLinksOutside(doc: Document = document): () => void {
  const onClick = (e: MouseEvent) => {
    if (e.button > 1) return;
    const href = externalLink(e.target);
    if (href == null) return;
    e.preventDefault();
    window.open(href, '_blank', 'noopener,noreferrer');
  };
  doc.addEventListener('click', onClick);
  doc.addEventListener('auxclick', onClick);
  return () => {
    doc.removeEventListener('click', onClick);
    doc.removeEventListener('auxclick', onClick);
  };
}
