// Load client for bench/socketio: W worker processes hold idle Socket.IO connections over raw WebSocket
// (Engine.IO v4 + Socket.IO v5 framing by hand, so the client stays light), then measure broadcasts.
// Usage: node load.mjs <baseUrl> <serverPid> <steps e.g. 1000,10000> <rounds>
import { fork, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tests/node/package.json"));
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);

if (process.argv[2] === "--worker") {
  const WebSocket = require("ws");
  const raw = process.env.BENCH_ENGINE_ONLY === "1"; // diagnostics: raw Engine.IO at /engine.io/, no Socket.IO CONNECT
  const url = process.argv[3].replace("http", "ws") + (raw ? "/engine.io/" : "/socket.io/") + "?EIO=4&transport=websocket";
  const sockets = [];
  let expected = 0, received = 0, latencies = [];
  const openOne = () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let state = 0;
    ws.on("error", reject);
    ws.on("message", (data) => {
      const s = data.toString();
      if (state === 0 && s[0] === "0") { if (raw) { state = 2; sockets.push(ws); resolve(); return; } state = 1; ws.send("40"); return; }
      if (state === 1 && s.startsWith("40")) { state = 2; sockets.push(ws); resolve(); return; }
      if (s === "2") { ws.send("3"); return; }
      if (s.startsWith('42["tick"')) {
        const at = s.indexOf('"t":') + 4;
        const t = Number(s.slice(at, s.indexOf(",", at)));
        latencies.push(Date.now() - t);
        if (++received === expected) process.send({ done: true, latencies }), latencies = [];
      }
    });
  });
  process.on("message", async (m) => {
    if (m.open) {
      let next = 0;
      const lanes = Array.from({ length: 50 }, async () => { while (next < m.open) { next++; await openOne(); } });
      await Promise.all(lanes);
      process.send({ opened: sockets.length });
    } else if (m.expect) {
      expected = m.expect; received = 0; latencies = [];
      process.send({ ready: true });
    } else if (m.closeAll) {
      sockets.splice(0).forEach((s) => s.close());
      process.send({ closed: true });
    } else if (m.exit) {
      sockets.forEach((s) => s.terminate());
      process.exit(0);
    }
  });
} else {
  const [base, pidArg, stepsArg, roundsArg] = process.argv.slice(2);
  const pid = Number(pidArg);
  const steps = (stepsArg ?? "1000,10000").split(",").map(Number);
  const rounds = Number(roundsArg ?? 20);
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
  // utime + stime of the server process, in ms (clock ticks are 10 ms on Linux).
  const cpuMs = () => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
  const get = async (p, method = "GET") => (await fetch(base + p, { method })).json();
  // BENCH_CLIENT=c: bench/wsload.c does a worker's job in C (a lighter client); this adapter speaks its line protocol.
  const spawnC = () => {
    const u = new URL(base);
    const child = spawn(process.env.BENCH_WSCLIENT, [u.hostname, u.port, "/socket.io/"], { stdio: ["pipe", "pipe", "inherit"] });
    const w = new EventEmitter();
    let pending = "", total = 0;
    child.stdout.on("data", (d) => {
      pending += d;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const [word, ...rest] = pending.slice(0, nl).split(" ");
        pending = pending.slice(nl + 1);
        if (word === "opened") w.emit("message", { opened: Number(rest[0]) });
        else if (word === "ready") w.emit("message", { ready: true });
        else if (word === "done") w.emit("message", { done: true, latencies: rest.map(Number) });
        else if (word === "closed") w.emit("message", { closed: true });
      }
    });
    w.send = (m) => {
      if (m.open !== undefined) child.stdin.write(`open ${(total += m.open)}\n`);
      else if (m.expect !== undefined) child.stdin.write(`expect ${m.expect}\n`);
      else if (m.closeAll) { total = 0; child.stdin.write("close\n"); }
      else if (m.exit) child.stdin.write("exit\n");
    };
    return w;
  };
  const workers = Array.from({ length: WORKERS }, () => process.env.BENCH_CLIENT === "c" ? spawnC() : fork(fileURLToPath(import.meta.url), ["--worker", base]));
  const ask = (w, msg, key) => new Promise((resolve) => { const h = (m) => { if (m[key] !== undefined) { w.off("message", h); resolve(m); } }; w.on("message", h); w.send(msg); });
  // Idle connections: give both servers time to return burst buffers (Kestrel's pool evicts idle blocks), then GC.
  let lastGc = {};
  const settle = async () => { for (let i = 0; i < 4; i++) { lastGc = await get("/bench/gc", "POST"); await new Promise((r) => setTimeout(r, Number(process.env.BENCH_SETTLE_MS ?? 2500))); } lastGc = await get("/bench/gc", "POST"); return rss(); };

  const result = { memory: [] };
  // Warm-up: open and close some connections first, so that one-time costs (JIT, thread pool growth,
  // buffer pools) land in the baseline, not in the per-connection figure. Same for both servers.
  await Promise.all(workers.map((w) => ask(w, { open: Math.ceil(1000 / WORKERS) }, "opened"))); // 1,000 in all, whatever the worker count
  await Promise.all(workers.map((w) => ask(w, { closeAll: true }, "closed")));
  for (let i = 0; i < 50 && (await get("/bench/stats")).sockets > 0; i++) await new Promise((r) => setTimeout(r, 100));
  const baseline = await settle();
  let open = 0;
  for (const target of steps) {
    const add = target - open;
    await Promise.all(workers.map((w, i) => ask(w, { open: Math.floor(add / WORKERS) + (i < add % WORKERS ? 1 : 0) }, "opened")));
    open = target;
    const stats = await get("/bench/stats");
    const after = await settle();
    result.memory.push({ connections: stats.sockets, rssBytes: after, bytesPerConnection: Math.round((after - baseline) / stats.sockets), gc: lastGc });
  }

  // Broadcast rounds: one small event to every socket; a round ends when every socket got it.
  const perWorker = [];
  for (let i = 0; i < WORKERS; i++) perWorker.push(Math.floor(open / WORKERS) + (i < open % WORKERS ? 1 : 0));
  const all = [];
  let totalMs = 0;
  let cpu = 0;
  for (let r = 0; rounds > 0 && r < rounds + 3; r++) {
    await Promise.all(workers.map((w, i) => ask(w, { expect: perWorker[i] }, "ready")));
    const done = Promise.all(workers.map((w) => new Promise((resolve) => { const h = (m) => { if (m.done) { w.off("message", h); resolve(m.latencies); } }; w.on("message", h); })));
    const started = performance.now();
    const cpuBefore = cpuMs();
    await get("/bench/broadcast?count=1", "POST");
    const latencies = (await done).flat();
    const ms = performance.now() - started;
    if (r >= 3) { totalMs += ms; cpu += cpuMs() - cpuBefore; all.push(...latencies); }
  }
  all.sort((a, b) => a - b);
  const pct = (p) => all[Math.min(all.length - 1, Math.floor(p * all.length))];
  if (rounds > 0) result.broadcast = { sockets: open, rounds, deliveries: all.length, deliveriesPerSecond: Math.round(all.length / (totalMs / 1000)), p50Ms: pct(0.5), p99Ms: pct(0.99), maxMs: all[all.length - 1], serverCpuMs: cpu, deliveriesPerServerCpuSecond: Math.round(all.length / (cpu / 1000)) };
  workers.forEach((w) => w.send({ exit: true }));
  console.log(JSON.stringify(result));
  process.exit(0);
}
