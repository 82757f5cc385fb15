// A node:http app, with or without the ssoctl guard in front of its handler.
// argv: guarded|plain LOGIN_URL SECRET_KEY
import { createServer } from "node:http";
import { loginRedirect } from "../../dist/guard/index.js";

const [mode, loginUrl, secretKey] = process.argv.slice(2);
const body = "hello\n";

function answer(req, res) {
  res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": String(body.length) });
  res.end(body);
}

let handler = answer;
const server = createServer((req, res) => handler(req, res));
server.listen(0, "127.0.0.1", () => {
  const appUrl = `http://127.0.0.1:${server.address().port}`;
  if (mode === "guarded") {
    const guard = loginRedirect({ loginUrl, appUrl, secretKey });
    handler = (req, res) =>
      guard(req, res, (error) => {
        if (error !== undefined) {
          res.writeHead(500);
          res.end();
          return;
        }
        answer(req, res);
      });
  }
  process.send?.({ ready: appUrl });
});
process.on("disconnect", () => process.exit(0));
