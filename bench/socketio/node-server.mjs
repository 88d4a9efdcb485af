// Reference: the Node socket.io 4.8 server doing the same work as our bench host
// (tools/Llana.SocketIO.Conformance --bench). Usage: node --expose-gc node-server.mjs PORT
import { createRequire } from "node:module";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tests/node/package.json"));
const { Server } = require("socket.io");

const port = Number(process.argv[2] ?? 3001);
const http = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const json = (o) => { res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify(o)); };
  if (url.pathname === "/bench/broadcast") {
    const count = Number(url.searchParams.get("count") ?? 1);
    for (let i = 0; i < count; i++) io.emit("tick", { t: Date.now(), i });
    return json({ sockets: io.of("/").sockets.size });
  }
  if (url.pathname === "/bench/stats") return json({ connections: io.engine.clientsCount, sockets: io.of("/").sockets.size });
  if (url.pathname === "/bench/gc") { global.gc?.(); global.gc?.(); return json({ rss: process.memoryUsage().rss }); }
});
const io = new Server(http, {});
io.on("connection", () => {});
http.listen(port, "127.0.0.1", () => console.log(JSON.stringify({ listening: port })));
