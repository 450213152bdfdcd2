import { describe, expect, it } from 'vitest';
import { alice, BASE_TS, bob, entry, message } from '../test/fixtures';
import { buildRows } from './rows';
import { mergeHits, snippetHtml } from './search';

const opts = { markerSeq: null, meId: alice.id, hasOlder: false, hasNewer: false, loadingOlder: false, loadingNewer: false, now: BASE_TS };

describe('message rows', () => {
  it('separates days, groups an author, and puts pending messages last', () => {
    const day = 24 * 3600 * 1000;
    const rows = buildRows(
      [message(1, { ts: BASE_TS - day }), message(2), message(3), message(4, { author: alice })],
      [entry(9)],
      opts,
    );
    expect(rows.map((r) => (r.kind === 'message' ? `m${r.message.seq}${r.compact ? 'c' : ''}` : r.kind))).toEqual([
      'top',
      'day',
      'm1',
      'day',
      'm2',
      'm3c',
      'm4',
      'pending',
      'bottom',
    ]);
    const labels = rows.filter((r) => r.kind === 'day').map((r) => (r.kind === 'day' ? r.label : ''));
    expect(labels).toEqual(['Yesterday', 'Today']);
  });

  it('puts the New line before the first unread message from someone else', () => {
    const rows = buildRows([message(1), message(2, { author: alice }), message(3, { author: bob })], [], {
      ...opts,
      markerSeq: 1,
    });
    const kinds = rows.map((r) => (r.kind === 'message' ? `m${r.message.seq}` : r.kind));
    expect(kinds).toEqual(['top', 'day', 'm1', 'm2', 'new', 'm3', 'bottom']);
  });

  it('hides pending messages while the newest messages are not loaded', () => {
    const rows = buildRows([message(1)], [entry(1)], { ...opts, hasNewer: true });
    expect(rows.some((r) => r.kind === 'pending')).toBe(false);
  });
});

describe('search results', () => {
  it('puts local hits first and drops server hits the cache had', () => {
    const hits = mergeHits({
      local: [{ message: message(1), snippet: 'a' }],
      server: [
        { message: message(1), snippet: 'a' },
        { message: message(2), snippet: 'b' },
      ],
      server_error: null,
    });
    expect(hits.map((h) => `${h.source}:${h.message.seq}`)).toEqual(['local:1', 'server:2']);
  });

  it('marks matches and escapes the rest', () => {
    expect(snippetHtml('<b>[hello]</b> world')).toBe('&lt;b&gt;<mark>hello</mark>&lt;/b&gt; world');
  });
});
