// Replicates the checks of the official Engine.IO v4 and Socket.IO v5 protocol test suites
// (socketio/engine.io-protocol, socketio/socket.io-protocol) with plain fetch + ws.
// Usage: node conformance.mjs http://127.0.0.1:PORT  -> one JSON line per test: {"name","ok","error"}
import WebSocket from "ws";

const URL = process.argv[2] ?? "http://localhost:3000";
const WS_URL = URL.replace("http", "ws");
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function expect(cond, message) {
  if (!cond) throw new Error(message);
}
function eq(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

// A ws wrapper with a message queue, like the suite's socket.iterator().
function open(url) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const queue = [];
  const waiters = [];
  let closed = false;
  const closeWaiters = [];
  ws.on("error", () => {});
  ws.on("message", (data, isBinary) => {
    const value = isBinary ? new Uint8Array(data) : data.toString();
    const w = waiters.shift();
    if (w) w(value); else queue.push(value);
  });
  ws.on("close", () => { closed = true; closeWaiters.splice(0).forEach((r) => r()); });
  return {
    ws,
    opened: new Promise((resolve) => ws.on("open", resolve)),
    next: () => queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)),
    closed: () => closed ? Promise.resolve() : new Promise((r) => closeWaiters.push(r)),
    send: (d) => ws.send(d),
  };
}

async function initLongPollingSession(path) {
  const res = await fetch(`${URL}${path}?EIO=4&transport=polling`);
  const content = await res.text();
  return JSON.parse(content.substring(1)).sid;
}

const tests = [];
const test = (name, fn, timeout = 2000) => tests.push({ name, fn, timeout });

for (const path of ["/engine.io/", "/socket.io/"]) {
  const P = path;
  test(`${P} handshake polling opens a session`, async () => {
    const res = await fetch(`${URL}${P}?EIO=4&transport=polling`);
    eq(res.status, 200, "status");
    const content = await res.text();
    expect(content.startsWith("0"), "starts with 0");
    const v = JSON.parse(content.substring(1));
    eq(Object.keys(v).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"], "keys");
    expect(typeof v.sid === "string", "sid");
    eq(v.upgrades, ["websocket"], "upgrades");
    eq([v.pingInterval, v.pingTimeout, v.maxPayload], [PING_INTERVAL, PING_TIMEOUT, 1000000], "timings");
  });
  test(`${P} invalid EIO`, async () => {
    eq((await fetch(`${URL}${P}?transport=polling`)).status, 400, "missing");
    eq((await fetch(`${URL}${P}?EIO=abc&transport=polling`)).status, 400, "abc");
  });
  test(`${P} invalid transport`, async () => {
    eq((await fetch(`${URL}${P}?EIO=4`)).status, 400, "missing");
    eq((await fetch(`${URL}${P}?EIO=4&transport=abc`)).status, 400, "abc");
  });
  test(`${P} invalid method`, async () => {
    eq((await fetch(`${URL}${P}?EIO=4&transport=polling`, { method: "post" })).status, 400, "post");
    eq((await fetch(`${URL}${P}?EIO=4&transport=polling`, { method: "put" })).status, 400, "put");
  });
  test(`${P} handshake websocket opens a session`, async () => {
    const s = open(`${WS_URL}${P}?EIO=4&transport=websocket`);
    const data = await s.next();
    expect(data.startsWith("0"), "starts with 0");
    const v = JSON.parse(data.substring(1));
    eq(Object.keys(v).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"], "keys");
    eq(v.upgrades, [], "upgrades");
    eq([v.pingInterval, v.pingTimeout, v.maxPayload], [PING_INTERVAL, PING_TIMEOUT, 1000000], "timings");
    s.ws.close();
  });
  test(`${P} websocket invalid EIO / transport closes`, async () => {
    for (const q of ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"]) {
      await open(`${WS_URL}${P}?${q}`).closed();
    }
  });
  test(`${P} heartbeat polling ping/pong`, async () => {
    const sid = await initLongPollingSession(P);
    for (let i = 0; i < 3; i++) {
      const poll = await fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`);
      eq(poll.status, 200, "poll status");
      eq(await poll.text(), "2", "ping");
      const push = await fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`, { method: "post", body: "3" });
      eq(push.status, 200, "push status");
    }
  }, 5000);
  test(`${P} heartbeat polling ping timeout`, async () => {
    const sid = await initLongPollingSession(P);
    await sleep(PING_INTERVAL + PING_TIMEOUT);
    eq((await fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`)).status, 400, "status");
  }, 5000);
  test(`${P} heartbeat websocket ping/pong`, async () => {
    const s = open(`${WS_URL}${P}?EIO=4&transport=websocket`);
    await s.next();
    for (let i = 0; i < 3; i++) {
      eq(await s.next(), "2", "ping");
      s.send("3");
    }
    s.ws.close();
  }, 5000);
  test(`${P} heartbeat websocket ping timeout`, async () => {
    await open(`${WS_URL}${P}?EIO=4&transport=websocket`).closed();
  }, 5000);
  test(`${P} close polling`, async () => {
    const sid = await initLongPollingSession(P);
    const [poll] = await Promise.all([
      fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`),
      fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`, { method: "post", body: "1" }),
    ]);
    eq(poll.status, 200, "status");
    eq(await poll.text(), "6", "noop");
    eq((await fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`)).status, 400, "after close");
  });
  test(`${P} close websocket`, async () => {
    const s = open(`${WS_URL}${P}?EIO=4&transport=websocket`);
    await s.next();
    s.send("1");
    await s.closed();
  });
  test(`${P} upgrade`, async () => {
    const sid = await initLongPollingSession(P);
    const s = open(`${WS_URL}${P}?EIO=4&transport=websocket&sid=${sid}`);
    await s.opened;
    s.send("2probe");
    eq(await s.next(), "3probe", "probe");
    const poll = await fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`);
    eq(poll.status, 200, "poll status");
    eq(await poll.text(), "6", "noop");
    s.send("5");
    if (P === "/engine.io/") {
      s.send("4hello");
      eq(await s.next(), "4hello", "echo");
    }
    s.ws.close();
  });
  test(`${P} ignores HTTP requests with same sid after upgrade`, async () => {
    const sid = await initLongPollingSession(P);
    const s = open(`${WS_URL}${P}?EIO=4&transport=websocket&sid=${sid}`);
    await s.opened;
    s.send("2probe");
    s.send("5");
    eq((await fetch(`${URL}${P}?EIO=4&transport=polling&sid=${sid}`)).status, 400, "status");
    if (P === "/engine.io/") {
      s.send("4hello");
      eq(await s.next(), "3probe", "probe");
      eq(await s.next(), "4hello", "echo");
    }
    s.ws.close();
  });
  test(`${P} ignores WebSocket connection with same sid after upgrade`, async () => {
    const sid = await initLongPollingSession(P);
    const s = open(`${WS_URL}${P}?EIO=4&transport=websocket&sid=${sid}`);
    await s.opened;
    s.send("2probe");
    s.send("5");
    await open(`${WS_URL}${P}?EIO=4&transport=websocket&sid=${sid}`).closed();
    if (P === "/engine.io/") {
      s.send("4hello");
      eq(await s.next(), "3probe", "probe");
      eq(await s.next(), "4hello", "echo");
    }
    s.ws.close();
  });
}

// Engine.IO message tests (raw echo).
const E = "/engine.io/";
for (const [name, body] of [["one text packet", "4hello"], ["several text packets", "4test1\x1e4test2\x1e4test3"], ["text and binary", "4hello\x1ebAQIDBA=="]]) {
  test(`${E} polling ${name}`, async () => {
    const sid = await initLongPollingSession(E);
    const push = await fetch(`${URL}${E}?EIO=4&transport=polling&sid=${sid}`, { method: "post", body });
    eq(push.status, 200, "push status");
    eq(await push.text(), "ok", "push body");
    const poll = await fetch(`${URL}${E}?EIO=4&transport=polling&sid=${sid}`);
    eq(poll.status, 200, "poll status");
    eq(await poll.text(), body, "echo");
  });
}
test(`${E} polling invalid packet closes`, async () => {
  const sid = await initLongPollingSession(E);
  try {
    eq((await fetch(`${URL}${E}?EIO=4&transport=polling&sid=${sid}`, { method: "post", body: "abc" })).status, 400, "post");
  } catch (e) { if (!(e instanceof TypeError)) throw e; }
  eq((await fetch(`${URL}${E}?EIO=4&transport=polling&sid=${sid}`)).status, 400, "after");
});
test(`${E} polling duplicate poll closes`, async () => {
  const sid = await initLongPollingSession(E);
  const responses = await Promise.all([
    fetch(`${URL}${E}?EIO=4&transport=polling&sid=${sid}`),
    sleep(5).then(() => fetch(`${URL}${E}?EIO=4&transport=polling&sid=${sid}&t=burst`)),
  ]);
  eq(responses[0].status, 200, "first");
  eq(await responses[0].text(), "1", "close packet");
  expect([400, 500].includes(responses[1].status), "second status " + responses[1].status);
  eq((await fetch(`${URL}${E}?EIO=4&transport=polling&sid=${sid}`)).status, 400, "after");
});
test(`${E} websocket text`, async () => {
  const s = open(`${WS_URL}${E}?EIO=4&transport=websocket`);
  await s.opened; await s.next();
  s.send("4hello");
  eq(await s.next(), "4hello", "echo");
  s.ws.close();
});
test(`${E} websocket binary`, async () => {
  const s = open(`${WS_URL}${E}?EIO=4&transport=websocket`);
  await s.next();
  s.send(Uint8Array.from([1, 2, 3, 4]));
  eq(Array.from(await s.next()), [1, 2, 3, 4], "echo");
  s.ws.close();
});
test(`${E} websocket invalid packet closes`, async () => {
  const s = open(`${WS_URL}${E}?EIO=4&transport=websocket`);
  await s.next();
  s.send("abc");
  await s.closed();
});

// Socket.IO protocol.
const S = "/socket.io/";
async function sio() {
  const s = open(`${WS_URL}${S}?EIO=4&transport=websocket`);
  await s.next();
  s.send("40");
  await s.next();
  await s.next();
  return s;
}
for (const [send, prefix, auth] of [["40", "40", '42["auth",{}]'], ['40{"token":"123"}', "40", '42["auth",{"token":"123"}]'], ["40/custom,", "40/custom,", '42/custom,["auth",{}]'], ['40/custom,{"token":"abc"}', "40/custom,", '42/custom,["auth",{"token":"abc"}]']]) {
  test(`${S} connect ${send}`, async () => {
    const s = open(`${WS_URL}${S}?EIO=4&transport=websocket`);
    await s.next();
    s.send(send);
    const data = await s.next();
    expect(data.startsWith(prefix), "prefix " + data);
    const handshake = JSON.parse(data.substring(prefix.length));
    eq(Object.keys(handshake), ["sid"], "keys");
    expect(typeof handshake.sid === "string", "sid");
    eq(await s.next(), auth, "auth packet");
    s.ws.close();
  });
}
test(`${S} unknown namespace`, async () => {
  const s = open(`${WS_URL}${S}?EIO=4&transport=websocket`);
  await s.next();
  s.send("40/random");
  eq(await s.next(), '44/random,{"message":"Invalid namespace"}', "connect error");
  s.ws.close();
});
test(`${S} invalid handshake closes`, async () => {
  const s = open(`${WS_URL}${S}?EIO=4&transport=websocket`);
  await s.next();
  s.send("4abc");
  await s.closed();
});
test(`${S} no handshake closes`, async () => {
  await open(`${WS_URL}${S}?EIO=4&transport=websocket`).closed();
});
test(`${S} disconnect main namespace`, async () => {
  const s = await sio();
  s.send("41");
  eq(await s.next(), "2", "ping after disconnect");
  s.ws.close();
});
test(`${S} connect then disconnect custom namespace`, async () => {
  const s = await sio();
  await s.next(); // ping
  s.send("40/custom");
  await s.next();
  await s.next();
  s.send("41/custom");
  s.send('42["message","message to main namespace"]');
  eq(await s.next(), '42["message-back","message to main namespace"]', "message-back");
  s.ws.close();
});
test(`${S} plain-text packet`, async () => {
  const s = await sio();
  s.send('42["message",1,"2",{"3":[true]}]');
  eq(await s.next(), '42["message-back",1,"2",{"3":[true]}]', "echo");
  s.ws.close();
});
test(`${S} binary attachments`, async () => {
  const s = await sio();
  s.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  s.send(Uint8Array.from([1, 2, 3]));
  s.send(Uint8Array.from([4, 5, 6]));
  eq(await s.next(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', "header");
  eq(Array.from(await s.next()), [1, 2, 3], "att 0");
  eq(Array.from(await s.next()), [4, 5, 6], "att 1");
  s.ws.close();
});
test(`${S} plain-text ack`, async () => {
  const s = await sio();
  s.send('42456["message-with-ack",1,"2",{"3":[false]}]');
  eq(await s.next(), '43456[1,"2",{"3":[false]}]', "ack");
  s.ws.close();
});
test(`${S} binary ack`, async () => {
  const s = await sio();
  s.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  s.send(Uint8Array.from([1, 2, 3]));
  s.send(Uint8Array.from([4, 5, 6]));
  eq(await s.next(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', "header");
  eq(Array.from(await s.next()), [1, 2, 3], "att 0");
  eq(Array.from(await s.next()), [4, 5, 6], "att 1");
  s.ws.close();
});
for (const [name, bad] of [["unknown packet type", "4abc"], ["invalid payload format", "42{}"], ["invalid ack id", '42abc["message-with-ack",1,"2",{"3":[false]}]']]) {
  test(`${S} invalid format (${name}) closes`, async () => {
    const s = await sio();
    s.send(bad);
    await s.closed();
  });
}

const only = process.argv[3] ?? process.env.ONLY;
let failed = 0;
for (const t of tests) {
  if (only && t.name !== only) continue;
  const started = Date.now();
  try {
    await Promise.race([t.fn(), sleep(t.timeout).then(() => { throw new Error(`timeout after ${t.timeout} ms`); })]);
    console.log(JSON.stringify({ name: t.name, ok: true, ms: Date.now() - started }));
  } catch (e) {
    failed++;
    console.log(JSON.stringify({ name: t.name, ok: false, ms: Date.now() - started, error: String(e?.message ?? e) }));
  }
}
process.exit(failed ? 1 : 0);
