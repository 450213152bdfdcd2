// Links open in the system's browser or mail client (Tauri's opener plugin), never inside the
// app's window. Message HTML marks them `target="_blank"` (markdown.ts); one listener on the
// document handles every one, wherever it is rendered.
import { openUrl } from '@tauri-apps/plugin-opener';

const OPENABLE = /^(https?:\/\/|mailto:)/i;

/** The external address a click on `target` follows, if any. */
export function externalLink(target: EventTarget | null): string | null {
  if (!(target instanceof Element)) return null;
  const a = target.closest('a[href]');
  const href = a?.getAttribute('href') ?? '';
  return OPENABLE.test(href) ? href : null;
}

/** Sends clicks on external links to the system's handler; returns the undo. */
export function openLinksOutside(doc: Document = document): () => void {
  const onClick = (e: MouseEvent) => {
    if (e.button > 1) return;
    const href = externalLink(e.target);
    if (href == null) return;
    e.preventDefault();
    openUrl(href).catch((err: unknown) => console.warn(`cannot open ${href}`, err));
  };
  doc.addEventListener('click', onClick);
  doc.addEventListener('auxclick', onClick);
  return () => {
    doc.removeEventListener('click', onClick);
    doc.removeEventListener('auxclick', onClick);
  };
}
