// Baseline: a bare node:http server answering 200 with one header.
import { createServer } from "node:http";

const server = createServer((req, res) => {
  res.writeHead(200, { "X-Bench": "bare" });
  res.end();
});
server.listen(0, "127.0.0.1", () => process.send?.({ ready: `http://127.0.0.1:${server.address().port}` }));
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
