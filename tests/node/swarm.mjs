// Many official socket.io-clients at once, for fault tests and the soak benchmark.
// Usage: node swarm.mjs '<{"urls":["http://…",…],"count":N,"table":"Customer","auth":{…}}>'
// Sockets are spread over the urls round-robin and reconnect quickly (with connection state recovery).
// Prints {"ev":"ready"} once all are connected; on the stdin line "report" prints one JSON line:
//   {"ev":"report","sockets":[{"ids":{"<id>":<times received>,…},"told":<server disconnects>,"connects":n},…]}
// counting INSERT events by primary key. "exit" ends the process.
import { io } from "socket.io-client";
import readline from "node:readline";

const config = JSON.parse(process.argv[2]);
const log = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sockets = [];
let connected = 0;
for (let i = 0; i < config.count; i++) {
  const url = config.urls[i % config.urls.length];
  const state = { ids: {}, told: 0, connects: 0 };
  const socket = io(url, {
    transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 500, timeout: 5000,
    auth: { "x-llana-table": config.table, ...(config.auth ?? {}) },
  });
  socket.on("connect", () => {
    if (state.connects++ === 0 && ++connected === config.count) log({ ev: "ready" });
  });
  socket.on("disconnect", (reason) => {
    if (reason === "io server disconnect") {
      // Told to refetch: a real client would reload its data, then connect again.
      state.told++;
      socket.connect();
    }
  });
  socket.on(config.table, (e) => {
    if (e.type === "INSERT") {
      const id = Object.entries(e).find(([k]) => k !== "type")[1];
      state.ids[id] = (state.ids[id] ?? 0) + 1;
    }
  });
  sockets.push({ socket, state });
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "report") {
    log({ ev: "report", memory: process.memoryUsage().rss, sockets: sockets.map((s) => s.state) });
  } else if (line === "exit") {
    for (const s of sockets) s.socket.close();
    process.exit(0);
  }
});
