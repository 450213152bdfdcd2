import { describe, expect, it } from 'vitest';
import { ParleyError } from '@parley/client';
import type { ClientEvent, Message } from '../bindings';
import { untilDone, WebOutbox } from './outbox';

const stored = { id: 1, channel: 'general', seq: 4, text: 'hi' } as Message;

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

function changes(events: ClientEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'outbox' ? [`${e.change}:${e.entry.state}`] : []));
}

describe('the web outbox', () => {
  it('answers a pending entry at once, then tells when it was sent', async () => {
    const events: ClientEvent[] = [];
    const d = deferred<Message | null>();
    const outbox = new WebOutbox((e) => events.push(e), () => d.promise);
    const entry = outbox.queue('message', 'general', 'hi', 'cid-1');
    expect(entry).toMatchObject({ kind: 'message', target: 'general', body: 'hi', client_id: 'cid-1', state: 'pending' });
    expect(outbox.list()).toHaveLength(1);
    d.resolve(stored);
    await settle();
    expect(changes(events)).toEqual(['queued:pending', 'sent:pending']);
    const sent = events[1];
    expect(sent.kind === 'outbox' && sent.message).toEqual(stored);
    expect(outbox.list()).toEqual([]);
  });

  it('marks a refused entry failed; retry sends it again, discard drops it', async () => {
    const events: ClientEvent[] = [];
    let attempt = 0;
    const outbox = new WebOutbox(
      (e) => events.push(e),
      async () => {
        attempt += 1;
        if (attempt === 1) throw new ParleyError('not_member', 'join first');
        return null;
      },
    );
    const entry = outbox.queue('edit', 'general', '{"message_id":1,"text":"x"}');
    await settle();
    expect(outbox.list()[0]).toMatchObject({ state: 'failed', error_code: 'not_member', error: 'join first' });
    // Being delivered: cannot be called back.
    expect(outbox.retry(entry.local_id)).toBe(true);
    await settle();
    expect(changes(events)).toEqual(['queued:pending', 'failed:failed', 'retried:pending', 'sent:pending']);

    const other = new WebOutbox(
      (e) => events.push(e),
      async () => {
        throw new ParleyError('message_too_long', 'too long');
      },
    );
    const e2 = other.queue('message', 'general', 'x');
    await settle();
    expect(other.discard(e2.local_id)).toBe(true);
    expect(other.list()).toEqual([]);
    expect(other.discard(e2.local_id)).toBe(false);
  });

  it('refuses to discard what is on the wire, and forgets everything when signed out', async () => {
    const events: ClientEvent[] = [];
    const d = deferred<Message | null>();
    const outbox = new WebOutbox((e) => events.push(e), () => d.promise);
    const entry = outbox.queue('message', 'general', 'hi');
    expect(() => outbox.discard(entry.local_id)).toThrow(/being sent/);
    outbox.clear();
    d.reject(new ParleyError('closed', 'the client was closed'));
    await settle();
    expect(changes(events)).toEqual(['queued:pending']);
  });

  it('retries transient failures until done', async () => {
    let n = 0;
    const waits: number[] = [];
    const result = await untilDone(
      async () => {
        n += 1;
        if (n < 3) throw new ParleyError('disconnected', 'cut');
        return 'ok';
      },
      () => true,
      async (ms) => {
        waits.push(ms);
      },
    );
    expect(result).toBe('ok');
    expect(waits).toEqual([200, 400]);
    await expect(
      untilDone(
        async () => {
          throw new ParleyError('forbidden', 'no');
        },
        () => true,
      ),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });
});
