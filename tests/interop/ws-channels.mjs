// The memory reference for `parley-bench connections`: Node's `ws` holding subscribed
// connections the way a small pub/sub server on it would. Each connection gets a hello, may
// subscribe to channels (`{"id":N,"type":"subscribe","channel":"C"}`, answered with a reply
// carrying the same id) and is kept in one Set per channel; one timer pings every connection
// every 30 s (the usual `ws` heartbeat) and ends those that did not answer the last ping.
// Prints `listening on PORT` once it accepts connections on 127.0.0.1.
import { WebSocketServer } from "ws";

const channels = new Map();
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });

wss.on("listening", () => {
  process.stdout.write(`listening on ${wss.address().port}\n`);
});

wss.on("connection", (ws) => {
  ws.alive = true;
  ws.channels = new Set();
  ws.on("pong", () => {
    ws.alive = true;
  });
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    let op;
    try {
      op = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (op.type === "subscribe" && typeof op.channel === "string") {
      let members = channels.get(op.channel);
      if (!members) channels.set(op.channel, (members = new Set()));
      members.add(ws);
      ws.channels.add(op.channel);
      ws.send(JSON.stringify({ type: "reply", id: op.id, op: "subscribe", result: { channel: op.channel } }));
    }
  });
  ws.on("close", () => {
    for (const name of ws.channels) channels.get(name)?.delete(ws);
  });
  ws.send(JSON.stringify({ type: "hello", protocol: 1 }));
});

setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.alive) {
      ws.terminate();
      continue;
    }
    ws.alive = false;
    ws.ping();
  }
}, 30_000).unref();
