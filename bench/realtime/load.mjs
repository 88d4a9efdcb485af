// Load client for bench/realtime: subscribers in worker processes, a REST writer in the controller.
//
//   node load.mjs <plan.json>     prints one JSON line per scenario on stdout, progress on stderr
//
// The plan: {"workers":2, "warmupWrites":300, "servers":{"A":{"base":"http://...","pid":123}, ...}, "scenarios":[...]} where a scenario is
//   {"name":"latency", "subscribers":1000, "on":"A", "writes":500, "rate":100, "writeTo":["A"]}   paced, open loop
//   {"name":"burst",   "subscribers":10000, "on":"B", "writes":100, "concurrency":16, "writeTo":["A"]} as fast as possible
//   "client":"sio" uses the official socket.io-client (a separate pool, closed after the scenario); the default "raw"
//   speaks Engine.IO v4 / Socket.IO v5 over `ws` by hand, so 10,000 subscribers fit on two cores next to the server.
// Subscriber pools persist between scenarios on the same node and only grow (1 -> 100 -> 1,000 -> 10,000); a scenario
// on another node closes the previous pool first. With several writeTo nodes, writes alternate between them and the
// result carries one row per write node ("A->B" cross-node vs "B->B" same node, same sockets, same moment).
//
// Times are CLOCK_MONOTONIC (process.hrtime), shared by every process on the box: latency = event receive time in the
// worker - the time just before the writer's fetch() (also reported against the time the 201 response was read).
import { fork, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tests/node/package.json"));
const now = () => { const [s, ns] = process.hrtime(); return s * 1e3 + ns / 1e6; };
const TABLE = "Customer", PK = "custId";

if (process.argv[2] === "--worker") worker();
else await controller(JSON.parse(readFileSync(process.argv[2], "utf8")));

// Per write node: latencies against send and response times; duplicates and missing per (socket, id).
// sockets: [{ seen: Map<id, receive time>, dup, bad, closed }]; groups: [{ ids: [..], send: [..], resp: [..] }].
function collect(sockets, groups) {
  const out = groups.map(() => ({ lat: [], latResp: [], missing: 0, delivered: 0 }));
  const index = new Map();
  groups.forEach((g, gi) => g.ids.forEach((id, i) => index.set(id, [gi, i])));
  let dup = 0, bad = 0, foreign = 0, closed = 0, first = Infinity, last = -Infinity;
  for (const s of sockets) {
    dup += s.dup; bad += s.bad; if (s.closed) closed++;
    for (const [id, t] of s.seen) {
      const hit = index.get(id);
      if (!hit) { foreign++; continue; }
      const g = groups[hit[0]], o = out[hit[0]];
      o.lat.push(t - g.send[hit[1]]); o.latResp.push(t - g.resp[hit[1]]); o.delivered++;
      if (t < first) first = t;
      if (t > last) last = t;
    }
  }
  out.forEach((o, gi) => { o.missing = sockets.length * groups[gi].ids.length - o.delivered; o.lat = Float64Array.from(o.lat); o.latResp = Float64Array.from(o.latResp); });
  return { collected: out, dup, bad, foreign, closed, first, last, sockets: sockets.length };
}

// ---- worker: holds sockets, records (socket, id) -> receive time --------------------------------------------------

function worker() {
  const WebSocket = require("ws");
  let sockets = []; // { seen: Map<id, time>, dup: number, close() }
  let url = null, events = 0;
  const onEvent = (sock, payload) => {
    events++;
    const t = now();
    if (sock.seen.has(payload)) sock.dup++;
    else sock.seen.set(payload, t);
  };
  // Raw client: `0{open}` -> send `40{auth}` -> `40{sid,pid}`; events `42["Customer",{"type":"INSERT","custId":"7"},"offset"]`.
  const openRaw = (base) => new Promise((resolve, reject) => {
    const ws = new WebSocket(base.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket", { perMessageDeflate: false });
    const sock = { seen: new Map(), dup: 0, bad: 0, close: () => ws.terminate() };
    let state = 0;
    const timer = setTimeout(() => reject(new Error("connect timeout")), 30000);
    ws.on("error", (e) => { clearTimeout(timer); reject(e); });
    ws.on("close", () => { if (state === 2) sock.closed = true; });
    ws.on("message", (data) => {
      const s = data.toString();
      if (state === 2 && s.charCodeAt(0) === 52 && s.charCodeAt(1) === 50) { // "42"
        const at = s.indexOf('"' + PK + '":"');
        if (!s.startsWith('42["' + TABLE + '"') || at < 0) { sock.bad++; return; }
        const from = at + PK.length + 4;
        onEvent(sock, s.slice(from, s.indexOf('"', from)));
        return;
      }
      if (s === "2") { ws.send("3"); return; }
      if (state === 0 && s[0] === "0") { state = 1; ws.send("40" + JSON.stringify({ "x-llana-table": TABLE })); return; }
      if (state === 1 && s.startsWith("40")) { state = 2; clearTimeout(timer); resolve(sock); return; }
      if (state === 1 && s.startsWith("44")) { clearTimeout(timer); reject(new Error("refused: " + s)); }
    });
  });
  const { io } = require("socket.io-client");
  const openSio = (base) => new Promise((resolve, reject) => {
    const socket = io(base, { transports: ["websocket"], auth: { "x-llana-table": TABLE }, forceNew: true, reconnection: false, timeout: 30000 });
    const sock = { seen: new Map(), dup: 0, bad: 0, close: () => socket.close() };
    // With connection state recovery an offset string follows the payload: only args[0] is the contract.
    socket.on(TABLE, (payload) => { if (payload && payload.type === "INSERT" && typeof payload[PK] === "string") onEvent(sock, payload[PK]); else sock.bad++; });
    socket.on("connect", () => resolve(sock));
    socket.on("connect_error", (e) => reject(e));
  });
  process.on("message", async (m) => {
    try {
      if (m.open) {
        if (url !== m.open.base || m.open.client !== sockets.client) { sockets.forEach((s) => s.close()); sockets = []; }
        url = m.open.base;
        const want = m.open.count, open = m.open.client === "sio" ? openSio : openRaw, fresh = [];
        let next = sockets.length, failed = 0;
        const lanes = Array.from({ length: 32 }, async () => {
          while (next < want) { next++; try { fresh.push(await open(url)); } catch (e) { failed++; if (failed < 3) console.error("[worker] " + e.message); } }
        });
        await Promise.all(lanes);
        sockets = sockets.concat(fresh);
        sockets.client = m.open.client;
        process.send({ opened: sockets.length, failed });
      } else if (m.reset) {
        for (const s of sockets) { s.seen.clear(); s.dup = 0; s.bad = 0; }
        events = 0;
        process.send({ reset: true, cpu: process.cpuUsage() });
      } else if (m.progress !== undefined) {
        process.send({ progress: events });
      } else if (m.collect) {
        process.send({ ...collect(sockets, m.collect), cpu: process.cpuUsage() });
      } else if (m.close) {
        sockets.forEach((s) => s.close()); sockets = []; url = null;
        process.send({ closed: true });
      } else if (m.exit) {
        sockets.forEach((s) => s.close());
        process.exit(0);
      }
    } catch (e) {
      process.send({ error: String(e && e.stack || e) });
    }
  });
}

// ---- C worker (BENCH_CLIENT=c): bench/wsload.c holds the raw subscribers; this adapter makes it answer like a worker ----

function cWorker(binary) {
  const w = new EventEmitter();
  let child = null, base = null, pending = "", dump = null;
  const reply = (word, rest, groups) => {
    if (word === "opened") w.emit("message", { opened: Number(rest[0]), failed: Number(rest[1]) });
    else if (word === "reset") w.emit("message", { reset: true, cpu: { user: Number(rest[0]), system: 0 } });
    else if (word === "progress") w.emit("message", { progress: Number(rest[0]) });
    else if (word === "closed") w.emit("message", { closed: true });
    else if (word === "e") {
      // One delivery: socket index, id, CLOCK_MONOTONIC ms (the clock of now()).
      const sock = (dump.sockets[rest[0]] ??= { seen: new Map(), dup: 0, bad: 0, closed: false });
      if (sock.seen.has(rest[1])) sock.dup++;
      else sock.seen.set(rest[1], Number(rest[2]));
    } else if (word === "end") {
      const [count, bad, closed, cpu] = rest.map(Number);
      const sockets = Array.from({ length: count }, (_, i) => dump.sockets[i] ?? { seen: new Map(), dup: 0, bad: 0, closed: false });
      if (sockets.length) sockets[0].bad = bad;
      for (let i = 0; i < closed && i < sockets.length; i++) sockets[i].closed = true;
      w.emit("message", { ...collect(sockets, dump.groups), cpu: { user: cpu, system: 0 } });
      dump = null;
    }
  };
  const start = (url) => {
    const u = new URL(url);
    child = spawn(binary, [u.hostname, u.port, "/socket.io/", TABLE, PK], { stdio: ["pipe", "pipe", "inherit"] });
    child.stdout.setEncoding("latin1");
    child.stdout.on("data", (d) => {
      pending += d;
      let from = 0, nl;
      while ((nl = pending.indexOf("\n", from)) >= 0) {
        const [word, ...rest] = pending.slice(from, nl).split(" ");
        from = nl + 1;
        reply(word, rest);
      }
      pending = pending.slice(from);
    });
    base = url;
  };
  const stop = () => { if (child) { child.stdin.end("exit\n"); child = null; base = null; } };
  w.send = (m) => {
    if (m.open) {
      if (base !== m.open.base) { stop(); start(m.open.base); }
      child.stdin.write(`open ${m.open.count} ${JSON.stringify({ "x-llana-table": TABLE })}\n`);
    } else if (m.reset) child.stdin.write("reset\n");
    else if (m.progress !== undefined) child.stdin.write("progress\n");
    else if (m.collect) { dump = { groups: m.collect, sockets: [] }; child.stdin.write("dump\n"); }
    else if (m.close) { stop(); w.emit("message", { closed: true }); }
    else if (m.exit) { stop(); setImmediate(() => w.emit("exit")); }
  };
  return w;
}

// ---- controller ------------------------------------------------------------------------------------------------

async function controller(plan) {
  const log = (s) => process.stderr.write(`[load] ${s}\n`);
  const nWorkers = plan.workers ?? 2;
  const nodeWorkers = Array.from({ length: nWorkers }, () => fork(fileURLToPath(import.meta.url), ["--worker"], { serialization: "advanced" }));
  // Raw subscribers live in C workers with BENCH_CLIENT=c (lighter on the shared CPU); socket.io-client ones in Node.
  const cWorkers = process.env.BENCH_CLIENT === "c" ? Array.from({ length: nWorkers }, () => cWorker(process.env.BENCH_WSLOAD)) : null;
  const workersFor = (client) => (client === "raw" && cWorkers) || nodeWorkers;
  let workers = nodeWorkers;
  const ask = (w, msg, key) => new Promise((resolve, reject) => {
    const h = (m) => { if (m.error) { w.off("message", h); reject(new Error(m.error)); } else if (m[key] !== undefined) { w.off("message", h); resolve(m); } };
    w.on("message", h); w.send(msg);
  });
  const all = (msg, key) => Promise.all(workers.map((w) => ask(w, msg, key)));
  const share = (n, i) => Math.floor(n / nWorkers) + (i < n % nWorkers ? 1 : 0);
  const serverCpu = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; }; // ms (USER_HZ 100)
  const cpuIdle = () => { const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number); return { idle: f[3] + f[4], total: f.slice(0, 8).reduce((a, b) => a + b, 0) }; };
  const pct = (sorted, p) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))] : NaN;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  let pool = { on: null, client: null, size: 0 };
  let seq = 0;
  // "SQL…" in writeTo: writes by a connection outside the API (one process of the database's own client per server
  // entry, `cmd`; statements in order on its stdin, each answer line is the new key), for REALTIME_SOURCE=database.
  const clients = new Map();
  const sqlWrite = (sql) => {
    let client = clients.get(sql);
    if (!client) {
      const p = spawn(sql.cmd[0], sql.cmd.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
      const waiting = [];
      let buffer = "";
      p.stdout.on("data", (d) => {
        buffer += d;
        for (let i; (i = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(i + 1)) waiting.shift()?.(buffer.slice(0, i));
      });
      clients.set(sql, (client = { p, waiting }));
    }
    const name = `rt-bench ${++seq}`;
    return new Promise((resolve) => {
      const send = now();
      client.waiting.push((id) => resolve({ id: id.trim(), send, resp: now() }));
      client.p.stdin.write(sql.insert.replace("NAME", name) + "\n");
    });
  };
  const write = (server) => (server.cmd ? sqlWrite(server) : post(server.base));
  const post = async (base) => {
    const body = JSON.stringify({ companyName: `rt-bench ${++seq}`, userId: 1 });
    const send = now();
    const res = await fetch(base + `/${TABLE}/`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const text = await res.text();
    const resp = now();
    if (res.status !== 201) throw new Error(`POST ${base}/${TABLE}/ -> ${res.status} ${text.slice(0, 200)}`);
    return { id: String(JSON.parse(text)[PK]), send, resp };
  };

  // Warm-up: JIT tiering of the write path on every node before anything is measured (no subscribers yet).
  for (const [k, s] of Object.entries(plan.servers)) {
    if (!s.base) continue;
    let left = plan.warmupWrites ?? 0;
    await Promise.all(Array.from({ length: 4 }, async () => { while (left-- > 0) await post(s.base); }));
    if (plan.warmupWrites) log(`warm-up: ${plan.warmupWrites} writes on ${k}`);
  }
  // Tier-1 recompilation of what the warm-up made hot runs in the background after a short delay: let it finish.
  if (plan.warmupWrites) await new Promise((r) => setTimeout(r, 1500));

  for (const sc of plan.scenarios) {
    const client = sc.client ?? "raw";
    const on = plan.servers[sc.on];
    if (pool.on !== sc.on || pool.client !== client) { if (pool.size) await all({ close: true }, "closed"); pool = { on: sc.on, client, size: 0 }; }
    workers = workersFor(client);
    if (pool.size < sc.subscribers) {
      const t0 = now();
      const r = await Promise.all(workers.map((w, i) => ask(w, { open: { base: on.base, count: share(sc.subscribers, i), client } }, "opened")));
      pool.size = r.reduce((a, b) => a + b.opened, 0);
      const failed = r.reduce((a, b) => a + b.failed, 0);
      log(`${sc.name}: ${pool.size} ${client} subscribers on ${sc.on} (${failed} failed) in ${((now() - t0) / 1000).toFixed(1)} s`);
      if (pool.size < sc.subscribers) throw new Error(`only ${pool.size} of ${sc.subscribers} subscribers connected`);
    }
    await sleep(sc.settleMs ?? 500);
    const writeTo = sc.writeTo ?? [sc.on];
    // Warm-up writes (not measured): JIT, connection pools, first-event paths on every write node. Their events
    // must have landed before the reset, or they would count as progress of the measured writes.
    await all({ reset: true }, "reset");
    const warm = writeTo.length * (sc.warmup ?? 5);
    for (const n of writeTo) for (let i = 0; i < (sc.warmup ?? 5); i++) await write(plan.servers[n]);
    for (const t = now(); now() - t < 10000; await sleep(50)) {
      if ((await all({ progress: 0 }, "progress")).reduce((a, b) => a + b.progress, 0) >= pool.size * warm) break;
    }
    await sleep(200);
    const cpuReset = (await all({ reset: true }, "reset")).map((r) => (r.cpu.user + r.cpu.system) / 1000);
    const cpuBefore = Object.fromEntries(Object.entries(plan.servers).filter(([, s]) => s.pid).map(([k, s]) => [k, serverCpu(s.pid)]));
    const idleBefore = cpuIdle();
    const groups = writeTo.map(() => ({ ids: [], send: [], resp: [] }));
    const record = (gi, r) => { groups[gi].ids.push(r.id); groups[gi].send.push(r.send); groups[gi].resp.push(r.resp); };
    let errors = 0;
    const start = now();
    if (sc.rate) {
      // Open loop: write i goes out at start + i/rate whatever the previous ones are doing.
      const inflight = [];
      for (let i = 0; i < sc.writes; i++) {
        const due = start + (i * 1000) / sc.rate;
        const wait = due - now();
        if (wait > 1) await sleep(wait - 0.5);
        while (now() < due) { /* spin the last half millisecond */ }
        const gi = i % writeTo.length;
        inflight.push(write(plan.servers[writeTo[gi]]).then((r) => record(gi, r), (e) => { errors++; log(e.message); }));
      }
      await Promise.all(inflight);
    } else {
      let next = 0;
      await Promise.all(Array.from({ length: sc.concurrency ?? 16 }, async () => {
        while (next < sc.writes) {
          const i = next++, gi = i % writeTo.length;
          try { record(gi, await write(plan.servers[writeTo[gi]])); } catch (e) { errors++; log(e.message); }
        }
      }));
    }
    const writeSeconds = (now() - start) / 1000;
    // Wait for quiescence: every expected delivery arrived, or nothing new for 3 s.
    const expected = pool.size * groups.reduce((a, g) => a + g.ids.length, 0);
    let seen = -1, still = now();
    for (;;) {
      const got = (await all({ progress: 0 }, "progress")).reduce((a, b) => a + b.progress, 0);
      if (got >= expected) break;
      if (got !== seen) { seen = got; still = now(); } else if (now() - still > 3000) break;
      await sleep(50);
    }
    const idleAfter = cpuIdle();
    const cpuAfter = Object.fromEntries(Object.entries(plan.servers).filter(([, s]) => s.pid).map(([k, s]) => [k, serverCpu(s.pid)]));
    const col = await all({ collect: groups }, "collected");
    const elapsed = now() - start;
    const rows = writeTo.map((n, gi) => {
      const lat = Float64Array.from(col.flatMap((c) => Array.from(c.collected[gi].lat))).sort();
      const latResp = Float64Array.from(col.flatMap((c) => Array.from(c.collected[gi].latResp))).sort();
      return {
        path: `${n}->${sc.on}`, writes: groups[gi].ids.length,
        p50: pct(lat, 50), p99: pct(lat, 99), max: lat.length ? lat[lat.length - 1] : NaN, p50AfterResponse: pct(latResp, 50), p99AfterResponse: pct(latResp, 99),
        delivered: col.reduce((a, c) => a + c.collected[gi].delivered, 0), missing: col.reduce((a, c) => a + c.collected[gi].missing, 0),
      };
    });
    const first = Math.min(...col.map((c) => c.first)), last = Math.max(...col.map((c) => c.last));
    const delivered = rows.reduce((a, r) => a + r.delivered, 0);
    const result = {
      name: sc.name, client, clientProcess: client === "raw" && cWorkers ? "c" : "node", subscribers: pool.size, on: sc.on, writeTo, writes: sc.writes, rate: sc.rate ?? null, concurrency: sc.rate ? null : (sc.concurrency ?? 16),
      achievedWriteRate: sc.writes / writeSeconds, errors, rows,
      duplicates: col.reduce((a, c) => a + c.dup, 0), malformed: col.reduce((a, c) => a + c.bad, 0), foreign: col.reduce((a, c) => a + c.foreign, 0), socketsClosed: col.reduce((a, c) => a + c.closed, 0),
      deliveries: delivered, deliveriesPerSecond: delivered / ((last - start) / 1000), deliverySpanSeconds: (last - start) / 1000,
      serverCpuMs: Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, cpuAfter[k] - cpuBefore[k]])),
      clientCpuMs: col.reduce((a, c, i) => a + (c.cpu.user + c.cpu.system) / 1000 - cpuReset[i], 0), elapsedMs: elapsed,
      boxCpuIdle: (idleAfter.idle - idleBefore.idle) / Math.max(1, idleAfter.total - idleBefore.total),
    };
    log(`${sc.name}: ${JSON.stringify(rows)} dup=${result.duplicates} deliveries/s=${result.deliveriesPerSecond.toFixed(0)}`);
    process.stdout.write(JSON.stringify(result) + "\n");
    if (client === "sio") { await all({ close: true }, "closed"); pool = { on: null, client: null, size: 0 }; }
  }
  for (const client of clients.values()) client.p.stdin.end();
  await Promise.all([...nodeWorkers, ...(cWorkers ?? [])].map((w) => new Promise((r) => { w.on("exit", r); w.send({ exit: true }); })));
}
