// Paging through a channel of 100,000 messages with the real api wrapper over a mocked IPC.
import { mockIPC } from '@tauri-apps/api/mocks';
import { describe, expect, it } from 'vitest';
import { message } from '../../test/fixtures';
import { MAX_LOADED, PAGE, Timeline } from './chat.svelte';

const TOTAL = 100_000;

/** History like the app's: the newest `limit` before `before`, oldest first. Message seqs are
 * the even numbers (other events take the odd ones). */
function installHistory(calls: { before: number | null }[]): void {
  mockIPC((cmd, args) => {
    if (cmd !== 'history') throw new Error(`unexpected ${cmd}`);
    const { before, limit } = args as { before: number | null; limit: number };
    calls.push({ before });
    const top = Math.min(before == null ? 2 * TOTAL + 1 : before, 2 * TOTAL + 1);
    const out = [];
    for (let seq = top - 1; seq > 0 && out.length < limit; seq--) {
      if (seq % 2 === 0) out.push(message(seq));
    }
    return out.reverse();
  });
}

describe('Timeline paging', () => {
  it('loads the newest page, pages up with a bounded window, and back down without gaps', async () => {
    const calls: { before: number | null }[] = [];
    installHistory(calls);
    const t = new Timeline('general', () => 2 * TOTAL);
    await t.loadLatest();
    expect(t.messages).toHaveLength(PAGE);
    expect(t.newestSeq).toBe(2 * TOTAL);
    expect(t.hasOlder).toBe(true);

    for (let i = 0; i < 20; i++) await t.loadOlder();
    expect(t.messages.length).toBe(MAX_LOADED);
    expect(t.hasNewer).toBe(true);
    const seqs = t.messages.map((m) => m.seq);
    expect(seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 2)).toBe(true);

    // Back down to the newest: every message, in order, none missing.
    let guard = 0;
    while (t.hasNewer && guard++ < 1000) await t.loadNewer();
    expect(t.hasNewer).toBe(false);
    expect(t.newestSeq).toBe(2 * TOTAL);
    const after = t.messages.map((m) => m.seq);
    expect(after.length).toBeLessThanOrEqual(MAX_LOADED);
    expect(after.every((s, i) => i === 0 || s === after[i - 1] + 2)).toBe(true);
  });

  it('jumps to a message far back', async () => {
    installHistory([]);
    const t = new Timeline('general', () => 2 * TOTAL);
    expect(await t.jumpTo(1234)).toBe(true);
    expect(t.messages.some((m) => m.seq === 1234)).toBe(true);
    expect(t.hasNewer).toBe(true);
    expect(t.hasOlder).toBe(true);
  });

  it('reports a failed load', async () => {
    mockIPC(() => {
      throw { code: 'offline', message: 'not connected to the server' };
    });
    const t = new Timeline('general');
    await t.loadLatest();
    expect(t.error).toBe('not connected to the server');
    expect(t.loaded).toBe(true);
  });
});

describe('Timeline reloads', () => {
  it('keeps a live message that arrives while the newest page is loading', async () => {
    // The page is read before message 12 is stored; 12 arrives live meanwhile.
    let release: (page: unknown) => void = () => {};
    let calls = 0;
    mockIPC((cmd) => {
      if (cmd !== 'history') throw new Error(`unexpected ${cmd}`);
      calls += 1;
      if (calls === 1) return [message(10)];
      return new Promise((resolve) => {
        release = resolve;
      });
    });
    const t = new Timeline('general', () => 12);
    await t.loadLatest();
    // A first load done: a reload (after reconnecting) starts, and a message lands meanwhile.
    const reload = t.loadLatest();
    await Promise.resolve();
    t.insertLive(message(12));
    release([message(10)]);
    await reload;
    expect(t.messages.map((m) => m.seq)).toEqual([10, 12]);
  });
});

describe('Timeline while a backlog streams in', () => {
  it('keeps messages older than the newest page out of it when they arrive during its load', async () => {
    let release: (page: unknown) => void = () => {};
    mockIPC((cmd) => {
      if (cmd !== 'history') throw new Error(`unexpected ${cmd}`);
      return new Promise((resolve) => {
        release = resolve;
      });
    });
    const t = new Timeline('general', () => 2 * TOTAL);
    const loading = t.loadLatest();
    await Promise.resolve();
    // The backlog from the channel's start, and one new message, while the page loads.
    t.insertLive(message(2));
    t.insertLive(message(4));
    t.insertLive(message(2 * TOTAL + 2));
    const page = [];
    for (let seq = 2 * TOTAL - 2 * (PAGE - 1); seq <= 2 * TOTAL; seq += 2) page.push(message(seq));
    release(page);
    await loading;
    const seqs = t.messages.map((m) => m.seq);
    expect(seqs[0]).toBe(2 * TOTAL - 2 * (PAGE - 1));
    expect(seqs).toHaveLength(PAGE + 1);
    expect(seqs[seqs.length - 1]).toBe(2 * TOTAL + 2);
    expect(t.hasOlder).toBe(true);
  });
});

describe('Timeline catch-up', () => {
  /** A history page over messages 1..top (the store's `top` can grow). */
  function pageOf(store: { top: number }, args: unknown): ReturnType<typeof message>[] {
    const { before, limit } = args as { before: number | null; limit: number };
    const upper = Math.min(before == null ? store.top + 1 : before, store.top + 1);
    const out = [];
    for (let seq = upper - 1; seq > 0 && out.length < limit; seq--) out.push(message(seq));
    return out.reverse();
  }

  function installGrowing(store: { top: number }, calls: unknown[] = []): void {
    mockIPC((cmd, args) => {
      if (cmd !== 'history') throw new Error(`unexpected ${cmd}`);
      calls.push(args);
      return pageOf(store, args);
    });
  }

  it('fetches the messages summed up as activity before the app knew the view was open', async () => {
    const store = { top: 10 };
    installGrowing(store);
    let head = 10;
    const t = new Timeline('general', () => head);
    await t.loadLatest();
    // Two messages came while the app still counted this channel as off screen.
    store.top = 12;
    head = 12;
    await t.catchUp();
    expect(t.messages.map((m) => m.seq).slice(-3)).toEqual([10, 11, 12]);
    expect(t.hasNewer).toBe(false);
  });

  it('takes the newest page when a whole backlog came meanwhile', async () => {
    const store = { top: 10 };
    const calls: unknown[] = [];
    installGrowing(store, calls);
    let head = 10;
    const t = new Timeline('general', () => head);
    await t.loadLatest();
    store.top = 10_010;
    head = 10_010;
    await t.catchUp();
    expect(t.newestSeq).toBe(10_010);
    expect(t.messages).toHaveLength(PAGE);
    expect(calls).toHaveLength(2);
  });

  it('catches up after a load that was running when the activity came', async () => {
    const store = { top: 10 };
    let release: () => void = () => {};
    let first = true;
    mockIPC((cmd, args) => {
      if (cmd !== 'history') throw new Error(`unexpected ${cmd}`);
      if (!first) return pageOf(store, args);
      first = false;
      // The first page was read before message 11 was stored.
      const page = pageOf(store, args);
      return new Promise((resolve) => {
        release = () => resolve(page);
      });
    });
    let head = 10;
    const t = new Timeline('general', () => head);
    const loading = t.loadLatest();
    await Promise.resolve();
    store.top = 11;
    head = 11;
    await t.catchUp(); // asked while loading: remembered
    release();
    await loading;
    await expect.poll(() => t.newestSeq).toBe(11);
  });

  it('catches up a thread (no channel head) from the head the summary reports', async () => {
    const store = { top: 10 };
    installGrowing(store);
    const t = new Timeline('thread#7');
    await t.loadLatest();
    store.top = 130;
    await t.catchUp(130);
    await expect.poll(() => t.newestSeq).toBe(130);
    const seqs = t.messages.map((m) => m.seq);
    expect(seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1)).toBe(true);
  });

  it('does nothing when the window is up to date or far back', async () => {
    const calls: { before: number | null }[] = [];
    installHistory(calls);
    const t = new Timeline('general', () => 2 * TOTAL);
    await t.loadLatest();
    const before = calls.length;
    await t.catchUp();
    expect(calls.length).toBe(before);
    await t.jumpTo(1234);
    const afterJump = calls.length;
    await t.catchUp();
    expect(calls.length).toBe(afterJump);
  });
});

