// A page that uses the built SDK (copied next to it as sdk/), for tests/tests/web.rs: it follows
// one channel and lists its messages; the test drives it through `window.page`.
// The hash holds what the test gives it: #channel=NAME&token=TOKEN (no token: the cookie).
import { ParleyClient } from './sdk/index.js';

const params = new URLSearchParams(location.hash.slice(1));
const channel = params.get('channel');
const client = new ParleyClient({
  url: '',
  token: params.get('token'),
  minReconnectDelayMs: 50,
  maxReconnectDelayMs: 500,
});
const list = document.getElementById('messages');
const sends = [];
const states = [];

client.on('state', (state) => {
  states.push(state);
  document.body.dataset.state = state;
  document.getElementById('state').textContent = state;
});
client.on('message', (frame) => {
  if (frame.channel !== channel) return;
  const item = document.createElement('li');
  item.dataset.seq = String(frame.seq);
  item.textContent = frame.message.text;
  list.append(item);
});

window.page = {
  client,
  sends,
  states,
  sendMany(prefix, count) {
    for (let i = 0; i < count; i++) {
      const entry = { text: `${prefix}${i}`, done: false, error: null };
      sends.push(entry);
      client.send(channel, entry.text).then(
        () => (entry.done = true),
        (err) => Object.assign(entry, { done: true, error: err.code }),
      );
    }
  },
  acknowledged() {
    return sends.every((s) => s.done) ? sends : null;
  },
};

try {
  const hello = await client.connect();
  await client.subscribe(channel);
  document.body.dataset.user = hello.user ? hello.user.name : '';
  document.body.dataset.ready = 'true';
} catch (err) {
  document.body.dataset.error = err.code ?? String(err);
}
