// Many official socket.io-clients at once, for fault tests and the soak benchmark.
// Usage: node swarm.mjs '<{"urls":["http://…",…],"count":N,"table":"Customer","auth":{…}}>'
// Sockets are spread over the urls round-robin and reconnect quickly (with connection state recovery).
// Prints {"ev":"ready"} once all are connected. The stdin line "check FILE" (FILE: the ids whose INSERT every socket
// should have got, one per line) prints one JSON line, computed here so that the caller need not hold every event:
//   {"ev":"report","sockets":[{"missing":n,"missingIds":[…up to 5],"duplicates":[{"id":…,"connects":[…]}…up to 5],
//     "told":<times told to refetch: server disconnects, and reconnects with socket.recovered false>,
//     "recovered":[socket.recovered at each connect]},…]}
// "exit" ends the process.
import { io } from "socket.io-client";
import readline from "node:readline";
import { readFileSync } from "node:fs";

const config = JSON.parse(process.argv[2]);
const log = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const sockets = [];
let connected = 0;
for (let i = 0; i < config.count; i++) {
  const url = config.urls[i % config.urls.length];
  // ids: for each INSERT received, the connect count at each receipt (1 = first connection).
  const state = { ids: new Map(), told: 0, connects: 0, recovered: [] };
  const socket = io(url, {
    transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 500, timeout: 5000,
    auth: { "x-llana-table": config.table, ...(config.auth ?? {}) },
  });
  socket.on("connect", () => {
    state.recovered.push(socket.recovered);
    // A reconnect that did not recover the session: a real client refetches what it shows.
    if (state.connects > 0 && !socket.recovered) state.told++;
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
      const id = String(Object.entries(e).find(([k]) => k !== "type")[1]);
      const at = state.ids.get(id);
      if (at) at.push(state.connects); else state.ids.set(id, [state.connects]);
    }
  });
  sockets.push({ socket, state });
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.startsWith("check ")) {
    const expected = readFileSync(line.slice(6), "utf8").split("\n").filter((l) => l.length > 0);
    log({
      ev: "report",
      sockets: sockets.map(({ state }) => {
        const missingIds = expected.filter((id) => !state.ids.has(id));
        const duplicates = [...state.ids].filter(([, at]) => at.length > 1).map(([id, at]) => ({ id, connects: at }));
        return {
          missing: missingIds.length, missingIds: missingIds.slice(0, 5), duplicates: duplicates.slice(0, 5),
          duplicateCount: duplicates.length, told: state.told, recovered: state.recovered,
        };
      }),
    });
  } else if (line === "exit") {
    for (const s of sockets) s.socket.close();
    process.exit(0);
  }
});
