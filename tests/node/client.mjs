// Drives the official socket.io-client against our server.
// Usage: node client.mjs <scenario> <baseUrl> <transports: polling|websocket|default>
// Prints one JSON line per step; the last line is {"done":true} or {"error":"..."}; exit code 0 on success.
import { io } from "socket.io-client";

const [scenario, url, transportArg] = process.argv.slice(2);
const transports = transportArg === "default" ? undefined : [transportArg];
const log = (o) => console.log(JSON.stringify(o));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function once(emitter, event, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for '${event}'`)), timeout);
    emitter.once(event, (...args) => { clearTimeout(timer); resolve(args); });
  });
}
function assert(cond, message) { if (!cond) throw new Error(message); }
function eq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}
// emitWithAck resolves with the first argument only; this keeps them all.
const ack = (socket, ...args) => new Promise((resolve, reject) =>
  socket.timeout(5000).emit(...args, (err, ...results) => (err ? reject(err) : resolve(results))));
const bytes = (b) => Array.from(new Uint8Array(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength));
const opts = (extra = {}) => ({ transports, reconnectionDelay: 100, reconnectionDelayMax: 200, ...extra });

async function full() {
  const socket = io(url, opts({ auth: { token: "abc" }, extraHeaders: { "x-token": "hdr" }, query: { q: "1" } }));
  const [welcome, welcomeBin] = await once(socket, "welcome");
  eq(welcome.auth, { token: "abc" }, "auth seen by the server");
  eq(welcome.header, "hdr", "extra header seen by the server");
  eq(welcome.query, "1", "query seen by the server");
  eq(welcome.data, "abc/hdr", "data set by the middleware");
  eq(bytes(welcomeBin), [1, 2, 3], "binary from the server");
  assert(socket.connected && typeof socket.id === "string", "connected with an id");
  log({ step: "connect", id: socket.id, transport: socket.io.engine.transport.name });

  // events both ways, with binary
  socket.emit("echo", "x", Buffer.from([4, 5, 6]), { nested: [1, "é"] });
  const [a, b, c] = await once(socket, "echo-back");
  eq(a, "x", "echo arg 0");
  eq(bytes(b), [4, 5, 6], "echo binary");
  eq(c, { nested: [1, "é"] }, "echo object");
  log({ step: "events" });

  // acks both ways
  const [sum, sumBin] = await ack(socket, "sum", 1, 2);
  eq(sum, 3, "ack from the server");
  eq(bytes(sumBin), [9], "binary ack from the server");
  socket.once("question", (text, bin, ack) => {
    eq(text, "q?", "question text");
    ack("answer", Buffer.from([bytes(bin)[0] + 1]));
  });
  socket.emit("ask-me");
  const [answer, answerBin] = await once(socket, "answer-was");
  eq(answer, "answer", "client ack seen by the server");
  eq(bytes(answerBin), [8], "client binary ack seen by the server");
  log({ step: "acks" });

  // two namespaces multiplexed on one connection; a rejected connect, then an accepted one
  const admin = socket.io.socket("/admin", { auth: { token: "bad" } });
  const [err] = await once(admin, "connect_error");
  eq(err.message, "not authorized", "rejection message");
  eq(err.data, { reason: "bad token" }, "rejection data");
  // retry with good credentials on the same manager (= the same Engine.IO connection)
  admin.auth = { token: "good" };
  admin.connect();
  const [adminId] = await once(admin, "admin-welcome");
  eq(adminId, admin.id, "admin socket id");
  assert(admin.io === socket.io && admin.io.engine.id === socket.io.engine.id, "multiplexed on one engine");
  const [engineCount] = await ack(socket, "engine-sockets");
  eq(engineCount, 2, "server sees two namespace sockets on one connection");
  log({ step: "multiplex" });

  // unknown namespace
  const nope = io(url + "/nope", opts());
  const [nopeErr] = await once(nope, "connect_error");
  eq(nopeErr.message, "Invalid namespace", "unknown namespace");
  nope.close();
  log({ step: "unknown-namespace" });

  // idle past three heartbeat intervals (server pingInterval is 300 ms)
  let disconnected = false;
  socket.on("disconnect", (r) => { disconnected = r; });
  let pings = 0;
  const threePings = new Promise((resolve) => socket.io.engine.on("ping", () => { if (++pings === 4) resolve(); }));
  await Promise.race([threePings, sleep(10000)]);
  assert(!disconnected && socket.connected, "still connected after idling: " + disconnected);
  assert(pings >= 4, `pings seen: ${pings}`);
  log({ step: "idle", pings, transport: socket.io.engine.transport.name });
  if (transportArg === "default") eq(socket.io.engine.transport.name, "websocket", "upgraded");
  if (transportArg === "polling") eq(socket.io.engine.transport.name, "polling", "stayed on polling");

  // server-side disconnect of one namespace
  admin.emit("kick-me");
  const [reason] = await once(admin, "disconnect");
  eq(reason, "io server disconnect", "server disconnect reason");
  await sleep(50);
  assert(socket.connected, "main namespace still connected");
  log({ step: "server-disconnect" });

  socket.close();
}

async function recovery() {
  const socket = io(url, opts());
  const [recovered0] = await once(socket, "hello");
  eq(recovered0, false, "first connection is not recovered");
  assert(socket.recovered === false, "socket.recovered false at first");
  const firstId = socket.id;
  log({ step: "connected", id: firstId });
  const missed = once(socket, "missed", 10000);
  // forced transport close: the client reconnects by itself
  socket.io.engine.close();
  await once(socket, "connect", 10000);
  const [reason] = await missed;
  assert(socket.recovered === true, "socket.recovered after reconnect");
  eq(socket.id, firstId, "same id after recovery");
  assert(typeof reason === "string", "missed event replayed");
  log({ step: "recovered", reason });
  socket.close();
}

async function base64() {
  // forceBase64: binary travels as "b<base64>" text, on WebSocket too.
  const socket = io(url, opts({ forceBase64: true }));
  await once(socket, "welcome");
  socket.emit("echo", Buffer.from([1, 2, 250]));
  const [b] = await once(socket, "echo-back");
  eq(bytes(b), [1, 2, 250], "base64 binary echo");
  log({ step: "base64", transport: socket.io.engine.transport.name });
  socket.close();
}

try {
  if (scenario === "full") await full();
  else if (scenario === "base64") await base64();
  else if (scenario === "recovery") await recovery();
  else throw new Error("unknown scenario " + scenario);
  log({ done: true });
  process.exit(0);
} catch (e) {
  log({ error: String(e?.stack ?? e) });
  process.exit(1);
}
