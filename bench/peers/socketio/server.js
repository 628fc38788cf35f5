// Socket.IO 4 set up for broadcast as its documentation recommends: the Redis adapter (so any
// number of these processes share every room), a room per blog joined at connection, and
// io.to(room).emit for each event. The bench posts each event to /publish/<blog>; readers
// connect with Engine.IO's WebSocket transport (/socket.io/?EIO=4&transport=websocket) and name
// their blog in the namespace connect's auth payload (40{"blog":"<slug>"}).
//
//   PORT=8000 REDIS_URL=redis://127.0.0.1:6380 node server.js
//
// From the "Performance tuning" and "Memory usage" pages: ws's native add-ons (bufferutil,
// utf-8-validate; optional dependencies in package.json) and the first HTTP request of each
// session dropped once it is no longer needed. Compression stays at Socket.IO's default (off).

import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const port = Number(process.env.PORT);
const host = process.env.HOST || "127.0.0.1";
const pubClient = createClient({ url: process.env.REDIS_URL });
const subClient = pubClient.duplicate();
await Promise.all([pubClient.connect(), subClient.connect()]);

const PUBLISH = /^\/publish\/([a-z0-9-]+)$/;
const MAX_BODY = 1 << 20;

const httpServer = createServer((req, res) => {
  const match = PUBLISH.exec(req.url);
  if (req.method !== "POST" || match === null) {
    res.writeHead(404, { "content-length": "0" }).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on("end", () => {
    let event;
    try {
      event = JSON.parse(Buffer.concat(chunks));
    } catch {
      res.writeHead(400, { "content-length": "0" }).end();
      return;
    }
    io.to(match[1]).emit("event", event);
    res.writeHead(201, { "content-length": "0" }).end();
  });
});

const io = new Server(httpServer, {
  adapter: createAdapter(pubClient, subClient),
  serveClient: false,
});
io.engine.on("connection", (rawSocket) => {
  rawSocket.request = null; // "Memory usage": the first request is kept otherwise
});
io.on("connection", (socket) => {
  const blog = socket.handshake.auth.blog; // the query went with the first request
  if (typeof blog === "string" && blog) socket.join(blog);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    Promise.allSettled([pubClient.quit(), subClient.quit()]).then(() => process.exit(0));
  });
}
httpServer.listen(port, host, () => console.log(`socket.io listening on ${host}:${port}`));
