// An interactive socket.io-client for the realtime tests: connects with the options given as JSON,
// prints every lifecycle step and event as a JSON line, and takes commands as JSON lines on stdin.
// Usage: node subscriber.mjs <url> '<options json>'
//   commands: {"cmd":"close-transport"} forces the transport closed (the client reconnects and tries recovery)
//             {"cmd":"emit","args":[...],"ack":true}  emits to the server
//             {"cmd":"auth","auth":{...}}              replaces the auth used on the next (re)connect
//             {"cmd":"connect"}                         connects again (after a refused handshake the client waits)
//             {"cmd":"exit"}
import { io } from "socket.io-client";
import readline from "node:readline";

const [url, optionsJson] = process.argv.slice(2);
const log = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const options = JSON.parse(optionsJson ?? "{}");
const socket = io(url, { reconnectionDelay: 100, reconnectionDelayMax: 300, timeout: 5000, ...options });

socket.on("connect", () => log({ ev: "connect", id: socket.id, recovered: socket.recovered, transport: socket.io.engine.transport.name }));
socket.on("connect_error", (e) => log({ ev: "connect_error", message: e.message, data: e.data ?? null }));
socket.on("disconnect", (reason) => log({ ev: "disconnect", reason }));
// With connection state recovery the server appends an offset string as the last argument; keep args[0].
socket.onAny((name, ...args) => log({ ev: "event", name, payload: args[0] }));

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const command = JSON.parse(line);
  switch (command.cmd) {
    case "close-transport":
      socket.io.engine.close();
      break;
    case "emit":
      if (command.ack) {
        try {
          const reply = await socket.timeout(3000).emitWithAck(...command.args);
          log({ ev: "ack", reply });
        } catch (e) {
          log({ ev: "ack", error: String(e) });
        }
      } else {
        socket.emit(...command.args);
      }
      break;
    case "auth":
      socket.auth = command.auth;
      break;
    case "connect":
      socket.connect();
      break;
    case "exit":
      socket.close();
      process.exit(0);
  }
});
