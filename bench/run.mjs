/**
 * `npm run bench`: the guard path against its baselines, a static file behind real nginx
 * `auth_request` against the same file without it, sign-in under a flood,
 * memory under 500 concurrent sign-ins, the CLI's start-up and big listing, and the LDAP
 * interface against slapd.
 * Every figure is a ratio to (or sits beside) a baseline measured in the same run.
 * Writes bench/results.json and prints a table. Servers listen on 127.0.0.1 only.
 */
import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as os from "node:os";
import { APP_ORIGIN, USER, makeDataDir, populate, signIn, signInForm, signInLoop } from "./lib/fixture.mjs";
import { compare, load, loadInChild, median } from "./lib/load.mjs";
import { CLI, ROOT, cpuSeconds, pinFamily, runCommand, sampleRss, startApp, startLoginServer, stopAll } from "./lib/proc.mjs";
import { startNginx } from "./lib/nginx.mjs";
import { runPostgresBenchmarks } from "./postgres.mjs";
import { runFootprintBenchmarks } from "./footprint.mjs";
import { runProtocolBenchmarks } from "./protocols.mjs";

const QUICK = process.env.BENCH_QUICK === "1";
const ROUNDS = QUICK ? 1 : 3;
const SECONDS = QUICK ? 2 : 3;
const HASH_CONCURRENCY = 2; // ssoctl serve's default --hash-concurrency
const only = process.env.BENCH_ONLY?.split(",");
const wanted = (name) => only === undefined || only.includes(name);

const results = {
  machine: { cores: os.availableParallelism(), cpu: os.cpus()[0]?.model ?? "", node: process.version, platform: `${os.platform()} ${os.release()}`, memoryMiB: Math.round(os.totalmem() / 2 ** 20), loadAverageAtStart: os.loadavg() },
  date: new Date().toISOString(),
};
const started = performance.now();
const log = (text) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)}s] ${text}\n`);
const cleanups = [];

function record(key, entry) {
  results[key] = entry;
  log(`${key}: ${JSON.stringify(entry)}`);
}

try {
  const data = await makeDataDir("main");
  cleanups.push(data.cleanup);
  const { secretKey } = await populate(data);
  const server = await startLoginServer(data.dataDir, { extraArgs: ["--hash-concurrency", String(HASH_CONCURRENCY)] });
  cleanups.push(server.stop);
  const token = await signIn(server.url);
  log(`login server ${server.url} (pid ${server.pid}); signed in`);

  const forwardAuth = {
    url: `${server.url}/auth/request`,
    headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP_ORIGIN}/reports/2024?page=2`, "x-original-method": "GET" },
  };

  if (wanted("forward_auth")) {
    const bare = await startApp("bare.mjs");
    const figures = await compare({ baseline: { url: `${bare.url}/auth/request`, headers: forwardAuth.headers }, measured: forwardAuth, rounds: ROUNDS, seconds: SECONDS });
    await bare.stop();
    record("forward_auth_vs_bare", { value: figures.ratio, target: ">= 0.85", ok: figures.ratio >= 0.85, baseline: { what: "bare node:http 200 + one header, req/s", value: figures.baselineRps }, measured: { what: "/auth/request with a valid login, req/s", value: figures.measuredRps }, runs: figures.runs });
  }

  if (wanted("nginx")) {
    // The same static file from real nginx, without and with auth_request (the README's form).
    const file = `${data.root}/index.html`;
    fs.writeFileSync(file, `<!doctype html><title>Reports</title>\n${"<p>A protected static page.</p>\n".repeat(60)}`);
    const keepalive = process.env.BENCH_NGINX_KEEPALIVE !== "0";
    const nginx = await startNginx({ loginUrl: server.url, file, keepalive });
    cleanups.push(nginx.stop);
    const headers = { host: new URL(APP_ORIGIN).host, cookie: `ssoctl=${token}` };
    const plain = { url: `${nginx.plainUrl}/index.html`, headers };
    const protectedFile = { url: `${nginx.authUrl}/index.html`, headers };
    const check = await load({ ...protectedFile, amount: 1, connections: 1 });
    if (check.ok !== 1) throw new Error(`nginx did not let the login through (${JSON.stringify(check.statusCodeStats)}): ${nginx.errorLog()}`);
    const figures = await compare({ baseline: plain, measured: protectedFile, rounds: ROUNDS, seconds: SECONDS });
    // Login server CPU per check, from /proc (Linux), over one more run of the protected side.
    const before = cpuSeconds(server.pid);
    const extra = await load({ ...protectedFile, duration: SECONDS });
    const after = cpuSeconds(server.pid);
    const cpuUsPerCheck = before === null || after === null ? null : ((after - before) * 1e6) / extra.total;
    await nginx.stop();
    record("nginx_forward_auth_vs_static", { value: figures.ratio, target: ">= 0.25", ok: figures.ratio >= 0.25, baseline: { what: "nginx static file, no auth, req/s", value: figures.baselineRps }, measured: { what: `same file behind auth_request, valid login, ${keepalive ? "upstream keepalive" : "no keepalive (BENCH_NGINX_KEEPALIVE=0)"}, req/s`, value: figures.measuredRps }, loginServerCpuUsPerCheck: cpuUsPerCheck, runs: figures.runs });
  }

  if (wanted("guard")) {
    const loginUrl = `${server.url}/login`;
    const guarded = await startApp("guard-app.mjs", ["guarded", loginUrl, secretKey]);
    const plain = await startApp("guard-app.mjs", ["plain", loginUrl, secretKey]);
    const headers = { cookie: `ssoctl=${token}` };
    const check = await fetch(`${guarded.url}/x`, { headers, redirect: "manual" });
    if (check.status !== 200) throw new Error(`the guarded app refused the login (${check.status})`);
    const figures = await compare({ baseline: { url: `${plain.url}/reports`, headers }, measured: { url: `${guarded.url}/reports`, headers }, rounds: ROUNDS, seconds: SECONDS });
    await plain.stop();
    record("guard_vs_unguarded", { value: figures.ratio, target: ">= 0.85", ok: figures.ratio >= 0.85, baseline: { what: "node:http app without the guard, req/s", value: figures.baselineRps }, measured: { what: "same app behind loginRedirect, valid login, req/s", value: figures.measuredRps }, runs: figures.runs });

    const express = await startApp("express-session-app.mjs", [loginUrl, secretKey]);
    const signedIn = await fetch(`${express.url}/sign-in`);
    await signedIn.text();
    const sid = signedIn.headers.getSetCookie()[0]?.split(";")[0];
    const sessionHeaders = { cookie: sid };
    const sessionCheck = await fetch(`${express.url}/reports`, { headers: sessionHeaders, redirect: "manual" });
    if (sessionCheck.status !== 200) throw new Error(`express-session refused its own session (${sessionCheck.status})`);
    const versus = await compare({ baseline: { url: `${express.url}/reports`, headers: sessionHeaders }, measured: { url: `${guarded.url}/reports`, headers }, rounds: ROUNDS, seconds: SECONDS });
    await express.stop();
    await guarded.stop();
    record("guard_vs_express_session", { value: versus.ratio, target: ">= 2.0", ok: versus.ratio >= 2.0, baseline: { what: "express + express-session (better-sqlite3-session-store), req/s", value: versus.baselineRps }, measured: { what: "node:http + loginRedirect, req/s", value: versus.measuredRps }, runs: versus.runs });
  }

  await runProtocolBenchmarks({ data, server, token, record, wanted, rounds: ROUNDS, seconds: SECONDS, quick: QUICK });

  const form = await signInForm(server.url);
  const signInLoad = (connections, duration, extra = {}) => ({ url: `${server.url}/login`, method: "POST", headers: form.headers, body: form.body, connections, duration, timeout: 20, ...extra });

  await runPostgresBenchmarks({ sqlite: { data, server, token }, record, wanted, log, rounds: ROUNDS, seconds: SECONDS, hashConcurrency: HASH_CONCURRENCY, quick: QUICK });

  if (wanted("signin")) {
    // Both sides: HASH_CONCURRENCY loops, each starting the next as the previous ends, for the same time.
    const db = new Database(data.dbPath, { readonly: true });
    const hash = db.prepare("SELECT password_hash FROM users WHERE username = ?").pluck().get("alice");
    db.close();
    const direct = [];
    const viaServer = [];
    const seconds = QUICK ? 4 : 6;
    await signInLoop(server.url, form, HASH_CONCURRENCY, 2);
    for (let i = 0; i < ROUNDS; i += 1) {
      const { stdout } = await runCommand([new URL("./apps/argon2-direct.mjs", import.meta.url).pathname, hash, USER.password, String(HASH_CONCURRENCY), String(seconds)]);
      const counted = JSON.parse(stdout);
      direct.push(counted.count / counted.seconds);
      viaServer.push(await signInLoop(server.url, form, HASH_CONCURRENCY, seconds));
    }
    const base = median(direct);
    const value = median(viaServer);
    record("signin_vs_argon2", { value: value / base, target: ">= 0.8", ok: value / base >= 0.8, baseline: { what: `argon2.verify per second, ${HASH_CONCURRENCY} at once, same hash`, value: base }, measured: { what: `successful sign-ins (303) per second, ${HASH_CONCURRENCY} clients`, value }, runs: { baseline: direct, measured: viaServer } });
  }

  if (wanted("flood")) {
    // Forward auth at a steady rate, quiet and then during a sign-in flood; latency, not saturation.
    // The server and its password worker get CPU 0, both load generators (each in its own process)
    // the other CPUs, so the figure is the server's latency, not the generators' wait for a core.
    const cores = os.availableParallelism();
    const pinned = cores >= 2 && pinFamily(server.pid, "0");
    const generatorCpus = pinned ? (cores === 2 ? "1" : `1-${cores - 1}`) : undefined;
    const steady = { ...forwardAuth, connections: 10, overallRate: 500, duration: 6 };
    const fromChild = (options) => loadInChild(options, { cpus: generatorCpus });
    const summary = (run) => ({ p50: run.p50, p99: run.p99, max: run.max, total: run.requests, failed: run.errors + run.timeouts + (run.requests - run.ok200) });
    await fromChild({ ...steady, duration: 2 });
    const quiet = summary(await fromChild(steady));
    const flood = fromChild(signInLoad(64, 10, { maxOverallRequests: 5000 }));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const during = summary(await fromChild(steady));
    const floodSummary = await flood;
    if (pinned) pinFamily(server.pid, `0-${cores - 1}`);
    const signInOk = floodSummary.statusCodeStats["303"]?.count ?? 0;
    const placement = pinned ? `server and worker pinned to CPU 0, load generators to CPU ${generatorCpus}` : "not pinned (taskset missing or one CPU): the generators share the server's cores";
    record("flood_p99_ms", { value: during.p99, target: "<= 20", ok: during.p99 <= 20, baseline: { what: "forward-auth p99 ms at 500 req/s, no flood", value: quiet.p99 }, measured: { what: "forward-auth p99 ms at 500 req/s during a 64-connection sign-in flood", value: during.p99 }, placement, flood: { signInsOk: signInOk, statusCodes: floodSummary.statusCodeStats, requests: floodSummary.requests }, p50: during.p50, max: during.max, loadAverage: os.loadavg() });
    record("flood_failed", { value: during.failed, target: "0", ok: during.failed === 0, baseline: { what: "failed forward-auth requests, no flood", value: quiet.failed }, measured: { what: "failed forward-auth requests during the flood", value: during.failed, of: during.total } });
  }

  await server.stop();

  await runFootprintBenchmarks({ data, secretKey, record, wanted, log });

  if (wanted("rss")) {
    const fresh = await startLoginServer(data.dataDir, { extraArgs: ["--hash-concurrency", String(HASH_CONCURRENCY)] });
    cleanups.push(fresh.stop);
    await signIn(fresh.url);
    const idle = sampleRss(fresh.pid).stop();
    const rss = sampleRss(fresh.pid, 5);
    const freshForm = await signInForm(fresh.url);
    const flood = await load({ url: `${fresh.url}/login`, method: "POST", headers: freshForm.headers, body: freshForm.body, connections: 500, duration: 8, maxOverallRequests: 20_000, timeout: 30 }, [303]);
    const peak = rss.stop();
    await fresh.stop();
    record("flood_peak_rss_mib", { value: peak, target: "<= 400", ok: peak <= 400, baseline: { what: "RSS MiB after one sign-in, idle", value: idle }, measured: { what: "peak RSS MiB of the server and its password worker during 500 concurrent sign-ins", value: peak }, statusCodes: flood.statusCodeStats, errors: flood.failed - (flood.total - flood.ok) });
  }

  if (wanted("cli")) {
    const bare = [];
    const cli = [];
    await runCommand(["-e", "0"]);
    await runCommand([CLI, "--version"]);
    for (let i = 0; i < 10; i += 1) {
      bare.push((await runCommand(["-e", "0"])).ms);
      const run = await runCommand([CLI, "--version"]);
      if (!/^\d+\.\d+\.\d+/.test(run.stdout)) throw new Error(`ssoctl --version printed ${run.stdout}`);
      cli.push(run.ms);
    }
    const value = median(cli);
    record("cli_version_ms", { value, target: "<= 150", ok: value <= 150, baseline: { what: "node -e 0, median ms of 10", value: median(bare) }, measured: { what: "node bin/ssoctl --version, median ms of 10", value }, runs: { baseline: bare, measured: cli } });
  }

  if (wanted("list")) {
    const big = await makeDataDir("list");
    cleanups.push(big.cleanup);
    const { stdout: hashOut } = await runCommand([CLI, "hash", "--password-stdin"], { input: "a password for everyone\n" });
    const hash = hashOut.trim();
    const db = new Database(big.dbPath);
    const insert = db.prepare("INSERT INTO users (username, name, email, groups, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)");
    const now = Math.floor(Date.now() / 1000);
    db.transaction(() => {
      for (let i = 0; i < 100_000; i += 1) insert.run(`user${String(i).padStart(6, "0")}`, `User ${i}`, `user${i}@example.com`, i % 3 === 0 ? "staff,ops" : "staff", hash, now);
    })();
    db.close();
    const directScript = `const D=require(${JSON.stringify(`${ROOT}node_modules/better-sqlite3`)});const db=new D(${JSON.stringify(big.dbPath)},{readonly:true});let s="[";for(const r of db.prepare("SELECT * FROM users ORDER BY username COLLATE NOCASE").iterate()){s+=JSON.stringify(r)+",";if(s.length>65536){process.stdout.write(s);s=""}}process.stdout.write(s+"]\\n")`;
    const first = await runCommand([CLI, "user", "list", "--json", "--data-dir", big.dataDir], { timeoutMs: 60_000 });
    const listed = JSON.parse(first.stdout);
    if (listed.length !== 100_000) throw new Error(`user list printed ${listed.length} users`);
    const direct = [];
    const cli = [];
    for (let i = 0; i < 3; i += 1) {
      direct.push((await runCommand(["-e", directScript], { timeoutMs: 60_000 })).ms);
      cli.push((await runCommand([CLI, "user", "list", "--json", "--data-dir", big.dataDir], { timeoutMs: 60_000 })).ms);
    }
    const value = median(cli);
    record("user_list_100k_ms", { value, target: "<= 2000", ok: value <= 2000, baseline: { what: "node + better-sqlite3 SELECT * of the same rows as JSON, median ms of 3", value: median(direct) }, measured: { what: "ssoctl user list --json, 100,000 users, median ms of 3", value }, runs: { baseline: direct, measured: cli } });
  }

  // ---- operations (issue 15): importing 10,000 htpasswd users ----
  if (wanted("import")) {
    const target = await makeDataDir("import");
    cleanups.push(target.cleanup);
    const { default: aprMd5 } = await import("apache-md5");
    const { verifyForeignHash } = await import("../dist/foreign-hashes.js");
    const passwordOf = (i) => `pw-${i}-${(i * 7919) % 10007}`;
    const lines = [];
    for (let i = 0; i < 10_000; i += 1) lines.push(`user${i}:${aprMd5(passwordOf(i))}`);
    const file = `${target.root}/users.htpasswd`;
    fs.writeFileSync(file, lines.join("\n") + "\n");
    const run = await runCommand([CLI, "user", "import", file, "--format", "htpasswd", "--data-dir", target.dataDir], { timeoutMs: 120_000 });
    if (!run.stdout.includes("Imported 10000 new user(s)")) throw new Error(`user import said: ${run.stdout.slice(0, 200)}`);
    const db = new Database(target.dbPath, { readonly: true });
    const verifyStarted = performance.now();
    let verified = 0;
    for (const row of db.prepare("SELECT username, password_hash FROM users").iterate()) {
      if (verifyForeignHash(row.password_hash, passwordOf(Number(row.username.slice(4))))) verified += 1;
    }
    db.close();
    const verifyMs = performance.now() - verifyStarted;
    record("import_10k_htpasswd_ms", { value: run.ms, target: "<= 60000", ok: run.ms <= 60_000 && verified === 10_000, baseline: { what: "verifying all 10,000 stored hashes afterwards in one process, ms", value: verifyMs }, measured: { what: "ssoctl user import of 10,000 apr1 htpasswd users (wall ms, process start included)", value: run.ms }, verified: { what: "stored hashes that verify with their user's password (foreign-hashes.js)", value: verified } });
  }
  // ---- /operations ----

  if (wanted("ldap")) {
    const { runLdapBenchmarks } = await import("./ldap.mjs");
    await runLdapBenchmarks({ record, log, cleanups, rounds: ROUNDS, seconds: SECONDS });
  }
} finally {
  for (const cleanup of cleanups.reverse()) {
    try { await cleanup(); } catch (error) { log(`cleanup: ${error.message}`); }
  }
  stopAll();
}

results.totalSeconds = (performance.now() - started) / 1000;
fs.writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify(results, null, 2) + "\n");

const rows = [["key", "value", "target", "ok", "baseline", "measured"]];
const fmt = (n) => (typeof n !== "number" ? String(n) : Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2));
for (const [key, entry] of Object.entries(results)) {
  if (typeof entry !== "object" || entry === null || !("target" in entry)) continue;
  rows.push([key, fmt(entry.value), entry.target, entry.ok ? "yes" : "NO", fmt(entry.baseline.value), fmt(entry.measured.value)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
process.stdout.write(`\nssoctl benchmarks — ${results.machine.cores} cores, Node ${results.machine.node}, ${results.totalSeconds.toFixed(0)} s, load average ${results.machine.loadAverageAtStart.map((n) => n.toFixed(1)).join(" ")} at start, ${os.loadavg().map((n) => n.toFixed(1)).join(" ")} at the end\n\n`);
for (const row of rows) process.stdout.write(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd() + "\n");
process.stdout.write(`\nwritten to bench/results.json\n`);
