// Baseline for a protocol endpoint: a bare node:http server answering every request with the same
// status, headers and body as the endpoint did once (argv: a JSON file of { status, headers, body }).
import { createServer } from "node:http";
import { readFileSync } from "node:fs";

const { status, headers, body } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const bytes = Buffer.from(body);
const server = createServer((req, res) => {
  // Read what a client posts (the token endpoint's form), as the endpoint must.
  req.resume();
  req.on("end", () => {
    res.writeHead(status, { ...headers, "Content-Length": String(bytes.length) });
    res.end(bytes);
  });
});
server.listen(0, "127.0.0.1", () => process.send?.({ ready: `http://127.0.0.1:${server.address().port}` }));
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
