// Search results: local hits first, then the server's that the cache did not have.
import type { SearchHit, SearchResults } from './bindings';

export type Hit = SearchHit & { source: 'local' | 'server' };

export function mergeHits(results: SearchResults): Hit[] {
  const seen = new Set<string>();
  const out: Hit[] = [];
  for (const [list, source] of [
    [results.local, 'local'],
    [results.server, 'server'],
  ] as const) {
    for (const hit of list) {
      const key = `${hit.message.channel}\u0000${hit.message.seq}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ ...hit, source });
    }
  }
  return out;
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A snippet with matches between `[` and `]` as safe HTML with <mark>. */
export function snippetHtml(snippet: string): string {
  return escapeHtml(snippet).replace(/\[([^\]]*)\]/g, '<mark>$1</mark>');
}
