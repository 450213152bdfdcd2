#!/usr/bin/env node
// Drives the built SDK (dist/node.js) for Parley's end-to-end tests (tests/tests/sdk.rs):
// one ParleyClient per process, commands as JSON lines on stdin, exactly one JSON reply line
// per command on stdout, in order. Logs go to stderr.
//
// Commands: connect {url, token, batchMs?}, subscribe {channel, since?, epoch?},
// send_many {channel, prefix, count}, wait_acks {timeoutMs}, wait_messages {channel, count,
// timeoutMs}, listen {name}, seen {name}, publish {channel, event, data, durable},
// history {channel}, presence {channel}, typing {channel}, react {channel, id, emoji},
// reconnect, state, close.
import * as readline from 'node:readline';
import { ParleyClient, ParleyError } from '../dist/node.js';

const log = (...args) => console.error('[sdk-driver]', ...args);
console.log = (...args) => console.error(...args);

let client = null;
/** Every message event, per channel, in arrival order. */
const messages = new Map();
/** Every frame seen by name (`listen`). */
const seen = new Map();
/** Sends made, and how each ended. */
const sends = [];
const resets = [];
const gaps = [];
const states = [];

function until(check, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const value = check();
      if (value) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function errorReply(err) {
  return { ok: false, code: err instanceof ParleyError ? err.code : 'exception', message: String(err?.message ?? err) };
}

const commands = {
  async connect({ url, token, batchMs }) {
    client = new ParleyClient({ url, token, batchMs, minReconnectDelayMs: 50, maxReconnectDelayMs: 500 });
    client.on('state', (s) => states.push(s));
    client.on('message', (frame) => {
      const list = messages.get(frame.channel) ?? [];
      list.push({ seq: frame.seq, text: frame.message.text, id: frame.message.id, author: frame.message.author.name });
      messages.set(frame.channel, list);
    });
    client.on('reset', (r) => resets.push(r));
    client.on('gap', (g) => gaps.push(g));
    client.on('error', (e) => log('error', e.code, e.message));
    const hello = await client.connect();
    return { user: hello.user, batch_ms: hello.batch_ms ?? null, subscriptions: hello.subscriptions.map((s) => s.channel) };
  },
  async subscribe({ channel, since, epoch }) {
    const from = since === undefined ? undefined : { seq: since, epoch: epoch ?? null };
    const sub = await client.subscribe(channel, {}, from);
    return { result: sub.result };
  },
  async send_many({ channel, prefix, count }) {
    for (let i = 0; i < count; i++) {
      const entry = { text: `${prefix}${i}`, done: false, error: null };
      sends.push(entry);
      client.send(channel, entry.text).then(
        (m) => {
          entry.done = true;
          entry.id = m.id;
        },
        (e) => {
          entry.done = true;
          entry.error = e.code;
        },
      );
    }
    return { queued: client.unacknowledged.length };
  },
  async wait_acks({ timeoutMs }) {
    await until(() => sends.every((s) => s.done), timeoutMs ?? 20000, 'acknowledgements');
    return { sends };
  },
  async wait_messages({ channel, count, timeoutMs }) {
    try {
      await until(() => (messages.get(channel) ?? []).length >= count, timeoutMs ?? 20000, `${count} messages in ${channel}`);
    } catch (err) {
      const have = (messages.get(channel) ?? []).map((m) => `${m.seq}:${m.text}`);
      throw new Error(`${err.message}: have ${JSON.stringify(have)}; states ${states.join(',')}; state ${client.state}; unacknowledged ${client.unacknowledged.length}; position ${JSON.stringify(client.position(channel))}`);
    }
    return { messages: messages.get(channel), resets, gaps };
  },
  async listen({ name }) {
    seen.set(name, []);
    client.on(name, (a, b) => seen.get(name).push(b === undefined ? a : { data: a, frame: b }));
    return {};
  },
  async seen({ name, count, timeoutMs }) {
    await until(() => (seen.get(name) ?? []).length >= (count ?? 1), timeoutMs ?? 20000, `${name} events`);
    return { seen: seen.get(name) };
  },
  async publish({ channel, event, data, durable }) {
    return { result: await client.publish(channel, event, data, { durable }) };
  },
  async history({ channel, limit }) {
    const all = [];
    for await (const m of client.messages(channel, limit ?? 50)) all.push({ seq: m.seq, text: m.text });
    return { messages: all };
  },
  async presence({ channel }) {
    return { presence: await client.presence(channel) };
  },
  async typing({ channel }) {
    client.typing(channel);
    return {};
  },
  async react({ channel, id, emoji }) {
    return { result: await client.react(channel, id, emoji) };
  },
  async reconnect() {
    client.reconnect();
    return {};
  },
  async state() {
    return { state: client.state, states, unacknowledged: client.unacknowledged.length, position: client.channelsFollowed.map((c) => [c, client.position(c)]) };
  },
  async close() {
    client?.close();
    return {};
  },
};

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  chain = chain.then(async () => {
    let reply;
    try {
      const cmd = JSON.parse(line);
      const run = commands[cmd.cmd];
      reply = run ? { ok: true, ...(await run(cmd)) } : { ok: false, code: 'unknown_command' };
    } catch (err) {
      reply = errorReply(err);
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
});
rl.on('close', () => {
  client?.close();
  setTimeout(() => process.exit(0), 100);
});
