/**
 * The PostgreSQL figures: forward auth and sign-in on PostgreSQL against the same on SQLite
 * (the caches must make the engine invisible), and how long a revocation takes to reach
 * another login server. Called from run.mjs with the SQLite server it already started.
 */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import pg from "pg";
import { APP_ORIGIN, signIn, signInForm, signInLoop } from "./lib/fixture.mjs";
import { compare, median } from "./lib/load.mjs";
import { startCluster } from "./lib/postgres.mjs";
import { CLI, ROOT, runCommand } from "./lib/proc.mjs";

const children = new Set();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** `ssoctl serve --port 0` with the database in SSOCTL_DATABASE_URL. */
async function startPgLoginServer(databaseUrl, extraArgs = []) {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...extraArgs], {
    cwd: ROOT,
    env: { ...process.env, SSOCTL_DATABASE_URL: databaseUrl },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.add(child);
  let stderr = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ssoctl serve --database did not start: ${stderr}`)), 15_000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match !== null) { clearTimeout(timer); resolve(match[1]); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`ssoctl serve --database exited with ${code}: ${stderr}`)); });
  });
  child.stderr.removeAllListeners("data");
  child.stderr.resume();
  return {
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      children.delete(child);
    },
  };
}

/** Every server behind one balancer has the same public URL (it is the tokens' issuer). */
const PUBLIC_URL = "http://login.bench.test";

/** The sign-in form of `serverUrl`, posted as a browser at the public URL would. */
async function publicForm(serverUrl) {
  const form = await signInForm(serverUrl);
  return { ...form, headers: { ...form.headers, origin: PUBLIC_URL } };
}

async function signInAt(serverUrl) {
  const form = await publicForm(serverUrl);
  const response = await fetch(`${serverUrl}/login`, { method: "POST", headers: form.headers, body: form.body, redirect: "manual" });
  await response.arrayBuffer();
  const token = /(?:^|, )?ssoctl=([^;]+)/.exec(response.headers.getSetCookie().find((line) => line.startsWith("ssoctl=")) ?? "")?.[1];
  if (response.status !== 303 || token === undefined) throw new Error(`sign-in failed: ${response.status}`);
  return token;
}

function sessionIdOf(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sid;
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function authStatus(serverUrl, token) {
  const response = await fetch(`${serverUrl}/auth/request`, {
    headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP_ORIGIN}/`, "x-original-method": "GET" },
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Milliseconds from a revocation's commit (by another connection, as the CLI would) until
 * `serverUrl` refuses the token it had cached, for `samples` fresh sign-ins made on `signInUrl`.
 */
async function revocationDelays({ signIn, serverUrl, samples, revoke }) {
  const delays = [];
  for (let i = 0; i < samples; i += 1) {
    const token = await signIn();
    for (let warm = 0; warm < 3; warm += 1) {
      if ((await authStatus(serverUrl, token)) !== 200) throw new Error("a fresh login was refused");
    }
    await revoke(sessionIdOf(token));
    const started = performance.now();
    for (;;) {
      const status = await authStatus(serverUrl, token);
      if (status === 401) break;
      if (performance.now() - started > 10_000) throw new Error("a revoked session was still accepted after 10 s");
    }
    delays.push(performance.now() - started);
  }
  return delays;
}

/**
 * `sqlite`: the data directory and server run.mjs started ({ data, server, token }).
 * `record(key, entry)` and `wanted(name)` as in run.mjs.
 */
export async function runPostgresBenchmarks({ sqlite, record, wanted, log, rounds, seconds, hashConcurrency, quick }) {
  if (!wanted("postgres")) return;
  const cluster = await startCluster();
  const servers = [];
  try {
    // The same installation on PostgreSQL: same user, app and key, moved with `ssoctl db copy`.
    await runCommand([CLI, "db", "copy", "--data-dir", sqlite.data.dataDir, "--to", cluster.url]);
    const args = ["--hash-concurrency", String(hashConcurrency), "--public-url", PUBLIC_URL];
    const a = await startPgLoginServer(cluster.url, args);
    servers.push(a);
    const b = await startPgLoginServer(cluster.url, args);
    servers.push(b);
    log(`PostgreSQL login servers ${a.url} and ${b.url}`);

    const pgToken = await signInAt(a.url);
    const headersOf = (token) => ({ cookie: `ssoctl=${token}`, "x-original-url": `${APP_ORIGIN}/reports/2024?page=2`, "x-original-method": "GET" });
    const auth = await compare({
      baseline: { url: `${sqlite.server.url}/auth/request`, headers: headersOf(sqlite.token) },
      measured: { url: `${a.url}/auth/request`, headers: headersOf(pgToken) },
      rounds,
      seconds,
    });
    record("forward_auth_pg_vs_sqlite", { value: auth.ratio, target: ">= 0.9", ok: auth.ratio >= 0.9, baseline: { what: "/auth/request on SQLite, valid login, req/s", value: auth.baselineRps }, measured: { what: "/auth/request on PostgreSQL (LISTEN/NOTIFY caches), req/s", value: auth.measuredRps }, runs: auth.runs });

    const sqliteForm = await signInForm(sqlite.server.url);
    const pgForm = await publicForm(a.url);
    const signInSeconds = quick ? 4 : 6;
    const signIns = { baseline: [], measured: [] };
    await signInLoop(a.url, pgForm, hashConcurrency, 2);
    // Hashing dominates and a shared machine swings it by 2x: more rounds than elsewhere, in alternating order.
    const signInRounds = quick ? 1 : 5;
    for (let i = 0; i < signInRounds; i += 1) {
      const sides = [
        () => signInLoop(sqlite.server.url, sqliteForm, hashConcurrency, signInSeconds).then((rate) => signIns.baseline.push(rate)),
        () => signInLoop(a.url, pgForm, hashConcurrency, signInSeconds).then((rate) => signIns.measured.push(rate)),
      ];
      for (const side of i % 2 === 0 ? sides : sides.reverse()) await side();
    }
    const signInRatio = median(signIns.measured) / median(signIns.baseline);
    record("signin_pg_vs_sqlite", { value: signInRatio, target: ">= 0.9", ok: signInRatio >= 0.9, baseline: { what: `sign-ins (303) per second on SQLite, ${hashConcurrency} clients`, value: median(signIns.baseline) }, measured: { what: `sign-ins (303) per second on PostgreSQL, ${hashConcurrency} clients`, value: median(signIns.measured) }, runs: signIns });

    const samples = quick ? 20 : 50;
    const client = new pg.Client({ connectionString: cluster.url });
    client.on("error", () => {});
    await client.connect();
    const onPg = await revocationDelays({ signIn: () => signInAt(a.url), serverUrl: b.url, samples, revoke: (sid) => client.query("DELETE FROM sessions WHERE id = $1", [sid]) });
    await client.end();
    const db = new Database(sqlite.data.dbPath);
    const onSqlite = await revocationDelays({ signIn: () => signIn(sqlite.server.url), serverUrl: sqlite.server.url, samples, revoke: async (sid) => db.prepare("DELETE FROM sessions WHERE id = ?").run(sid) });
    db.close();
    const p99 = percentile(onPg, 99);
    record("revocation_visible_ms", { value: p99, target: "<= 100", ok: p99 <= 100, baseline: { what: `p99 ms until a SQLite server refuses a session deleted by another connection, ${samples} sessions`, value: percentile(onSqlite, 99) }, measured: { what: `p99 ms until a second PostgreSQL server refuses a session deleted by another connection, ${samples} sessions`, value: p99 }, p50: percentile(onPg, 50), max: Math.max(...onPg) });
  } finally {
    for (const server of servers) await server.stop().catch(() => {});
    cluster.stop();
  }
}
