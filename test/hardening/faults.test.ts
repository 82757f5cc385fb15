/**
 * Concurrency and faults: the CLI writing while the server is under load, a
 * server killed mid-load, a graceful stop, and a database that cannot be
 * written, is full or is gone. None of them may surface SQLITE_BUSY, lose a
 * session the client saw succeed, or crash the server.
 */
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { signToken } from "../../src/token.js";
import { startLoginServer } from "../../src/server/app.js";
import { resolveServerConfig } from "../../src/server/config.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import {
  authRequest,
  cloneDataDir,
  eventually,
  formSession,
  jwtPayload,
  postLogin,
  rawRequest,
  runCli,
  spawnServe,
  type ServeProcess,
} from "./support.js";
import { request } from "undici";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "alice's password" };
const LENIENT = { user: { limit: 1_000_000, windowSeconds: 600, lockSeconds: 600 }, addr: { limit: 1_000_000, windowSeconds: 600, lockSeconds: 600 } };

let template: TestDataDir;
let data: TestDataDir | undefined;
let child: ServeProcess | undefined;

beforeAll(async () => {
  template = await makeDataDir({ users: [ALICE], apps: [APP] });
});
afterAll(() => template.cleanup());
afterEach(async () => {
  await child?.kill();
  child = undefined;
  data?.cleanup();
  data = undefined;
});

/** Sign-ins in `workers` parallel loops until `stop()` says so; every answer is kept. */
function signInLoad(
  server: { url: string },
  options: { workers: number; stop: (answered: number) => boolean; credentials: (i: number) => { username: string; password: string } },
): Promise<Array<{ status: number; body: string; token: string | undefined } | { error: string }>> {
  const answers: Array<{ status: number; body: string; token: string | undefined } | { error: string }> = [];
  const worker = async (): Promise<void> => {
    const form = await formSession(server);
    for (let i = 0; !options.stop(answers.length); i += 1) {
      try {
        answers.push(await postLogin(server, form, options.credentials(i)));
      } catch (error) {
        answers.push({ error: (error as Error).message });
      }
    }
  };
  return Promise.all(Array.from({ length: options.workers }, worker)).then(() => answers);
}

describe("the CLI and the server on one database", () => {
  it("never surfaces SQLITE_BUSY while the CLI adds and removes users during sign-in load", async () => {
    data = cloneDataDir(template);
    const server = await startServer(data, { throttle: LENIENT });
    const dir = data.dataDir.dir;
    let done = false;
    const load = signInLoad(server, {
      workers: 3,
      // Enough sign-ins to matter even when hashing (at the lowest CPU priority) is slow on a busy machine.
      stop: (answered) => done && answered > 5,
      credentials: (i) => (i % 2 === 0 ? ALICE : { username: `temp${i % 3}`, password: "a wrong password" }),
    });
    const cliRuns: Array<{ args: string[]; code: number | null; stderr: string }> = [];
    const churn = async (lane: number): Promise<void> => {
      for (let round = 0; round < 1; round += 1) {
        const name = `temp${lane}`;
        const steps: Array<[string[], string?]> = [
          [["user", "add", name, "--password-stdin", "-d", dir], "temporary password\n"],
          [["user", "disable", name, "-d", dir]],
          [["session", "revoke", "--user", "alice", "-d", dir]],
          [["user", "unlock", "alice", "-d", dir]],
          [["user", "remove", name, "-d", dir]],
        ];
        for (const [args, input] of steps) {
          const result = await runCli(args, { input });
          cliRuns.push({ args, code: result.code, stderr: result.stderr });
        }
      }
    };
    try {
      await Promise.all([churn(0), churn(1)]);
    } finally {
      done = true;
    }
    const answers = await load;
    await server.close();

    expect(cliRuns.filter((run) => run.code !== 0 || run.stderr !== "")).toEqual([]);
    expect(cliRuns).toHaveLength(10);
    const statuses = answers.map((a) => ("status" in a ? a.status : a.error));
    expect(statuses.length).toBeGreaterThan(5);
    for (const status of new Set(statuses)) expect([303, 401, 503]).toContain(status);
    // A 503 may only be load shedding ("busy"), never a database failure ("Temporarily unavailable").
    for (const answer of answers) {
      if ("status" in answer && answer.status === 503) expect(answer.body).toContain("The login server is busy");
    }
  }, 120_000);
});

describe("a crash in the middle of sign-ins", () => {
  it("leaves an intact database holding every session the clients saw succeed", { timeout: 90_000 }, async () => {
    data = cloneDataDir(template);
    child = await spawnServe(data.dataDir.dir);
    let killed = false;
    const load = signInLoad(child, { workers: 4, stop: () => killed, credentials: () => ALICE });
    await eventually("a few sign-ins succeeded", async () => (await countSessions(data!.dataDir.dbPath)) >= 4, 60_000);
    child.child.kill("SIGKILL");
    killed = true;
    expect(await child.exited).toBe("SIGKILL");
    const answers = await load;

    const sids = answers.flatMap((a) => ("status" in a && a.status === 303 && a.token !== undefined ? [jwtPayload(a.token).sid as string] : []));
    expect(sids.length).toBeGreaterThanOrEqual(3);
    const db = new Database(data.dataDir.dbPath);
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const stored = new Set(db.prepare<[], { id: string }>("SELECT id FROM sessions").all().map((row) => row.id));
      expect(sids.filter((sid) => !stored.has(sid))).toEqual([]);
    } finally {
      db.close();
    }
  });
});

async function countSessions(dbPath: string): Promise<number> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 2000");
    return (db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe("a graceful stop", () => {
  it("lets a sign-in in flight finish on SIGTERM, closes its connection, then exits 0", async () => {
    data = cloneDataDir(template);
    child = await spawnServe(data.dataDir.dir);
    const form = await formSession(child);
    const body = new URLSearchParams({ csrf: form.csrf, ...ALICE }).toString();
    const head =
      `POST /login HTTP/1.1\r\nHost: 127.0.0.1:${child.port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
      `Cookie: ${form.cookie}\r\nOrigin: ${child.url}\r\nContent-Length: ${body.length}\r\n\r\n`;
    // Half the body now, the signal, then the rest: the request is certainly in flight when SIGTERM lands.
    const net = await import("node:net");
    const socket = net.connect({ port: child.port, host: "127.0.0.1" });
    await new Promise<void>((resolve) => socket.on("connect", resolve));
    let received = "";
    socket.setEncoding("latin1").on("data", (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.write(head + body.slice(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.child.kill("SIGTERM");
    await eventually("the server saw the signal", () => child!.stderr().includes("SIGTERM received"));
    // A new connection is no longer accepted.
    expect((await rawRequest(child.port, [`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`], { timeoutMs: 1000 })).status).toBeNull();
    socket.write(body.slice(10));
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 303 /);
    expect(received).toMatch(/Set-Cookie: ssoctl=ey/i);
    // The answer tells the client to go: a keep-alive connection would otherwise hold the exit back.
    expect(received).toMatch(/\r\nConnection: close\r\n/i);
    expect(await child.exited).toBe(0);
  });
});

describe("a database that fails", () => {
  it("answers 503 with a clear page when the database is read-only, and still serves reads", async () => {
    data = cloneDataDir(template);
    const store = openSqliteStore(data.dataDir.dbPath, { readonly: true });
    const login = await startLoginServer(resolveServerConfig({ host: "127.0.0.1", port: 0 }), {
      store,
      dataDir: data.dataDir,
      auditWrite: () => {},
    });
    const server = { url: login.url };
    try {
      // A session made before the database became read-only.
      const writer = openSqliteStore(data.dataDir.dbPath);
      const now = Math.floor(Date.now() / 1000);
      await writer.createSession({ id: "before-ro", username: "alice", anonymous: false, createdAt: now, expiresAt: now + 3600, clientAddr: "", userAgent: "" });
      await writer.close();
      const token = await signToken({ username: "alice", sessionId: "before-ro", issuedAt: now, expiresAt: now + 3600, issuer: login.url, anonymous: false }, data.secret);

      const form = await formSession(server);
      for (const credentials of [ALICE, { username: "alice", password: "a wrong one" }]) {
        const answer = await postLogin(server, form, credentials);
        expect(answer.status).toBe(503);
        expect(answer.headers["retry-after"]).toBeDefined();
        expect(answer.body).toContain("could not complete the request");
        expect(answer.token).toBeUndefined();
      }
      expect(await authRequest(server, token, `${APP}/`)).toBe(200);
      expect((await request(`${login.url}/healthz`)).statusCode).toBe(200);
    } finally {
      await login.close(1000);
      await store.close();
    }
  });

  it("keeps running with a closed database handle: 503 pages, /healthz 503, forward auth 401", async () => {
    data = cloneDataDir(template);
    const server = await startServer(data);
    try {
      const form = await formSession(server);
      const signedIn = await postLogin(server, form, ALICE);
      expect(signedIn.status).toBe(303);
      await server.login.context.store.close();

      const answer = await postLogin(server, form, ALICE);
      expect(answer.status).toBe(503);
      expect(answer.headers["retry-after"]).toBe("5");
      expect(answer.body).toContain("Temporarily unavailable");
      const login = await request(`${server.url}/login`);
      expect(login.statusCode).toBe(503);
      await login.body.dump();
      const health = await request(`${server.url}/healthz`);
      expect(health.statusCode).toBe(503);
      expect(await health.body.json()).toEqual({ status: "unavailable" });
      expect(await authRequest(server, signedIn.token, `${APP}/`)).toBe(401);
      const forward = await request(`${server.url}/auth/forward`, {
        headers: { cookie: `ssoctl=${signedIn.token}`, "x-forwarded-proto": "http", "x-forwarded-host": "127.0.0.1:9", "x-forwarded-uri": "/", "x-forwarded-method": "GET" },
      });
      expect(forward.statusCode).toBe(401);
      await forward.body.dump();
    } finally {
      await server.close();
    }
  });
});
