// The usual Node way: express + express-session with a SQLite session store;
// every request looks its session up in SQLite. GET /sign-in creates a session.
import express from "express";
import session from "express-session";
import Database from "better-sqlite3";
import makeStore from "better-sqlite3-session-store";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const [loginUrl, secretKey] = process.argv.slice(2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-bench-sess-"));
const db = new Database(path.join(dir, "sessions.db"));
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
const SqliteStore = makeStore(session);
const body = "hello\n";

const app = express();
app.use(
  session({
    store: new SqliteStore({ client: db, expired: { clear: true, intervalMs: 900_000 } }),
    secret: secretKey,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: "lax", maxAge: 12 * 3600 * 1000 },
  }),
);
app.get("/sign-in", (req, res) => {
  req.session.user = { name: "alice", anonymous: false };
  res.send("signed in\n");
});
app.use((req, res, next) => {
  if (req.session.user === undefined) {
    res.redirect(302, `${loginUrl}?app=x&path=${encodeURIComponent(req.path)}`);
    return;
  }
  req.user = req.session.user;
  next();
});
app.get("/{*any}", (req, res) => {
  res.set({ "Content-Type": "text/plain", "Content-Length": String(body.length) });
  res.end(body);
});
const server = app.listen(0, "127.0.0.1", () => process.send?.({ ready: `http://127.0.0.1:${server.address().port}` }));
function stop() {
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on("disconnect", stop);
process.on("SIGTERM", stop);
