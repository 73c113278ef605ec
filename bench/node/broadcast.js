// The Node.js baseline: a minimal `ws` broadcast server, driven by the same JSON lines as the Python ones.
"use strict";
const readline = require("node:readline");
const crypto = require("node:crypto");
const { WebSocketServer } = require("ws");

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, backlog: 4096 });

function isoMicros() {
  const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
  const iso = new Date(Math.floor(micros / 1000)).toISOString(); // ...sssZ
  return iso.slice(0, -1) + String(micros % 1000).padStart(3, "0") + "+00:00";
}

function event(n, size) {
  const head = { type: "bench", event_id: crypto.randomUUID(), timestamp: isoMicros(), n, pad: "" };
  head.pad = "x".repeat(Math.max(0, size - JSON.stringify(head).length));
  return JSON.stringify(head);
}

function message(n, size, batch) {
  if (batch <= 1) return Buffer.from(event(n, size));
  const events = [];
  for (let i = 0; i < batch; i++) events.push(event(n + i, size));
  return Buffer.from('{"type":"batch","events":[' + events.join(",") + "]}");
}

function broadcast(data) {
  for (const client of wss.clients) {
    if (client.readyState === 1) client.send(data, { binary: false });
  }
}

function send(cmd, reply) {
  const events = cmd.events, rate = cmd.rate || 0, size = cmd.size, batch = cmd.batch || 1;
  const start = performance.now();
  let sent = 0, behind = 0;
  const step = () => {
    if (sent >= events) {
      reply({ sent, seconds: (performance.now() - start) / 1000, behind_ms: Math.round(behind * 10) / 10 });
      return;
    }
    if (rate > 0) {
      const due = start + (sent / rate) * 1000;
      const now = performance.now();
      if (due > now) { setTimeout(step, due - now); return; }
      behind = Math.max(behind, now - due);
    }
    const k = Math.min(batch, events - sent);
    broadcast(message(sent, size, k));
    sent += k;
    setImmediate(step); // let reads and write completions in between events
  };
  step();
}

wss.on("listening", () => {
  const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
  out({ ready: true, port: wss.address().port });
  const rl = readline.createInterface({ input: process.stdin });
  const queue = [];
  let busy = false;
  const next = () => {
    if (busy || queue.length === 0) return;
    busy = true;
    const cmd = queue.shift();
    const reply = (obj) => { out(obj); busy = false; next(); };
    if (cmd.cmd === "quit") process.exit(0);
    else if (cmd.cmd === "count") reply({ connections: wss.clients.size });
    else if (cmd.cmd === "send") send(cmd, reply);
    else reply({ error: "unknown command " + cmd.cmd });
  };
  rl.on("line", (line) => { queue.push(JSON.parse(line)); next(); });
  rl.on("close", () => process.exit(0));
});
