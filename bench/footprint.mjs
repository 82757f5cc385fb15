/**
 * Footprint figures: the idle server's memory with every process it starts, against a bare
 * node:http server's, and the time from launch to the first 200 from /healthz, against the same
 * for a bare server. Called from run.mjs with the benchmark's data directory.
 */
import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import * as net from "node:net";
import { APP_ORIGIN, USER, signIn } from "./lib/fixture.mjs";
import { median } from "./lib/load.mjs";
import { CLI, ROOT, runCommand, sampleRss, startApp, startLoginServer, track } from "./lib/proc.mjs";

const IDLE_SECONDS = 10;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Peak RSS (MiB, the process and its descendants) over one second, IDLE_SECONDS after it started. */
async function idleRss(pid, startedAt) {
  await sleep(Math.max(0, startedAt + IDLE_SECONDS * 1000 - performance.now()));
  const sampler = sampleRss(pid, 50);
  await sleep(1000);
  return sampler.stop();
}

async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Milliseconds from spawning `args` until GET /healthz on `port` answers 200 (polled every 2 ms). */
async function timeToReady(args, port) {
  const started = performance.now();
  const child = track(spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "ignore"] }));
  const statuses = new Set();
  try {
    for (;;) {
      if (performance.now() - started > 30_000) throw new Error(`${args.join(" ")} was not ready in 30 s`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/healthz`);
        await response.arrayBuffer();
        statuses.add(response.status);
        if (response.status === 200) return { ms: performance.now() - started, statuses: [...statuses] };
      } catch {
        await sleep(2);
      }
    }
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}

/** GET /auth/request once with each token, `concurrency` at a time; throws on anything but 200. */
async function checkEach(url, tokens, concurrency = 10) {
  let next = 0;
  async function client() {
    while (next < tokens.length) {
      const token = tokens[next++];
      const response = await fetch(`${url}/auth/request`, { headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP_ORIGIN}/reports`, "x-original-method": "GET" } });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`forward auth answered ${response.status} for a live session`);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
}

export async function runFootprintBenchmarks({ data, secretKey, record, wanted, log }) {
  if (wanted("idle")) {
    // The bare server and the login server start together and are sampled at the same age.
    const bareStarted = performance.now();
    const bare = await startApp("bare.mjs");
    const serverStarted = performance.now();
    const server = await startLoginServer(data.dataDir);
    const [bareMiB, serverMiB] = await Promise.all([idleRss(bare.pid, bareStarted), idleRss(server.pid, serverStarted)]);
    await server.stop();
    record("idle_rss_vs_node", { value: serverMiB / bareMiB, target: "<= 1.7", ok: serverMiB / bareMiB <= 1.7, baseline: { what: `bare node:http server, peak RSS MiB over 1 s, ${IDLE_SECONDS} s after start`, value: bareMiB }, measured: { what: "ssoctl serve (SQLite, no OIDC client) with every process it starts, same sampling", value: serverMiB } });

    // One OIDC client, and the provider loaded by a discovery request (a client's first step).
    await runCommand([CLI, "client", "add", "bench-idle", "--redirect-uri", "https://bench.example.com/cb", "--data-dir", data.dataDir]);
    const withClientStarted = performance.now();
    const withClient = await startLoginServer(data.dataDir);
    const discovery = await fetch(`${withClient.url}/.well-known/openid-configuration`);
    if (discovery.status !== 200) throw new Error(`discovery answered ${discovery.status}`);
    await discovery.arrayBuffer();
    const withClientMiB = await idleRss(withClient.pid, withClientStarted);
    await withClient.stop();
    await bare.stop();
    await runCommand([CLI, "client", "remove", "bench-idle", "--data-dir", data.dataDir]);
    record("idle_rss_oidc_vs_node", { value: withClientMiB / bareMiB, target: "<= 2.3", ok: withClientMiB / bareMiB <= 2.3, baseline: { what: "the same bare node:http server, peak RSS MiB", value: bareMiB }, measured: { what: "ssoctl serve with one OIDC client after one discovery request (provider loaded), with every process it starts", value: withClientMiB } });
  }

  if (wanted("ready")) {
    const bare = [];
    const serve = [];
    const seen = new Set();
    const port = await freePort();
    const bareArgs = [new URL("./apps/bare-port.mjs", import.meta.url).pathname, String(port)];
    const serveArgs = [CLI, "serve", "--data-dir", data.dataDir, "--port", String(port)];
    // One warm-up of each fills the page cache; then 10 alternating cold starts.
    await timeToReady(bareArgs, port);
    await timeToReady(serveArgs, port);
    for (let i = 0; i < 10; i += 1) {
      bare.push((await timeToReady(bareArgs, port)).ms);
      const run = await timeToReady(serveArgs, port);
      for (const status of run.statuses) seen.add(status);
      serve.push(run.ms);
    }
    const value = median(serve) / median(bare);
    log(`serve /healthz statuses seen while starting: ${[...seen].join(", ")}`);
    record("serve_ready_vs_node", { value, target: "<= 3", ok: value <= 3 && seen.size === 1, baseline: { what: "bare node:http server: launch → first 200, median ms of 10", value: median(bare) }, measured: { what: "ssoctl serve: launch → first 200 from /healthz, median ms of 10", value: median(serve) }, statusesSeen: [...seen], runs: { baseline: bare, measured: serve } });
  }

  if (wanted("sessions")) {
    // 100,000 sessions as 100,000 sign-ins leave them (rows written here: argon2 would take hours),
    // then 10,000 of them used at forward auth, each once, with a token signed as the server signs.
    const server = await startLoginServer(data.dataDir);
    await signIn(server.url);
    await sleep(1000);
    const before = sampleRss(server.pid).stop();
    const db = new Database(data.dbPath);
    const userId = db.prepare("SELECT id FROM users WHERE username = ?").pluck().get(USER.username);
    const groups = db.prepare("SELECT groups FROM users WHERE username = ?").pluck().get(USER.username);
    const now = Math.floor(Date.now() / 1000);
    const insert = db.prepare("INSERT INTO sessions (id, user_id, username, anonymous, created_at, expires_at, client_addr, user_agent) VALUES (?, ?, ?, 0, ?, ?, '127.0.0.1', 'bench')");
    const ids = [];
    db.transaction(() => {
      for (let i = 0; i < 100_000; i += 1) {
        const id = randomBytes(16).toString("base64url");
        insert.run(id, userId, USER.username, now, now + 12 * 3600);
        if (i < 10_000) ids.push(id);
      }
    })();
    db.close();
    const { signToken } = await import("../dist/token.js");
    const tokens = await Promise.all(ids.map((sessionId) => signToken({ username: USER.username, sessionId, issuedAt: now, expiresAt: now + 12 * 3600, issuer: server.url, anonymous: false, groups: String(groups).split(",").filter(Boolean), amr: ["pwd"] }, secretKey)));
    const during = sampleRss(server.pid, 50);
    await checkEach(server.url, tokens);
    const peak = during.stop();
    await sleep(1000);
    const after = sampleRss(server.pid).stop();
    await server.stop();
    log(`sessions: RSS ${before.toFixed(1)} MiB before, peak ${peak.toFixed(1)} MiB while checking, ${after.toFixed(1)} MiB after`);
    record("rss_after_100k_sessions_mib", { value: after, target: "bounded (caches of 10,000 tokens and logins)", ok: true, baseline: { what: "RSS MiB of the server (and its worker) after one sign-in, idle", value: before }, measured: { what: "RSS MiB after 100,000 sessions exist and 10,000 were each used once at forward auth", value: after }, peakMiB: peak });
  }
}
