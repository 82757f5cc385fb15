/**
 * Brute force: failed sign-ins are counted per username and per client
 * address (DESIGN §9: 5 and 20 in 10 minutes, locked 10 minutes). A locked
 * request is answered 429 with Retry-After and hashes nothing — proved by the
 * sign-in's verification count, not by timing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { cloneDataDir, formSession, postLogin, runCli, spawnServe, type ServeProcess } from "./support.js";

const ALICE = { username: "alice", password: "correct horse battery" };
const WRONG = { username: "alice", password: "wrong password!" };

/** DESIGN §9's counts are shown at their defaults once; the other tests lock after 2 to spend less on argon2. */
const QUICK = { user: { limit: 2, windowSeconds: 600, lockSeconds: 600 }, addr: { limit: 3, windowSeconds: 600, lockSeconds: 600 } };

let template: TestDataDir;
let data: TestDataDir | undefined;
const servers: RunningServer[] = [];
let child: ServeProcess | undefined;

beforeAll(async () => {
  template = await makeDataDir({
    users: [ALICE, { username: "bob", password: "bob's password" }, { username: "carol", password: "carol's password" }],
  });
});
afterAll(() => template.cleanup());

afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
  await child?.kill();
  child = undefined;
  data?.cleanup();
  data = undefined;
});

async function setUp(config: Parameters<typeof startServer>[1] = {}, clock?: () => number): Promise<RunningServer> {
  data = cloneDataDir(template);
  const server = await startServer(data, config, clock);
  servers.push(server);
  return server;
}

function verifications(server: RunningServer): number {
  return server.login.context.signIn.verifications;
}

describe("throttling per username", () => {
  it("answers 429 with Retry-After after 5 wrong passwords, without hashing the next attempt", async () => {
    const server = await setUp();
    const form = await formSession(server);
    for (let i = 0; i < 5; i += 1) expect((await postLogin(server, form, WRONG)).status).toBe(401);
    expect(verifications(server)).toBe(5);

    const locked = await postLogin(server, form, ALICE);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(590);
    expect(Number(locked.headers["retry-after"])).toBeLessThanOrEqual(600);
    expect(locked.body).toContain("Too many failed sign-ins");
    expect(locked.token).toBeUndefined();
    // Even the right password is refused while locked, and nothing was hashed for it.
    expect(verifications(server)).toBe(5);
    // The lock is per username, case-insensitively.
    expect((await postLogin(server, form, { username: "ALICE", password: ALICE.password })).status).toBe(429);
    expect(verifications(server)).toBe(5);
    // Another user from the same address is not locked (5 < 20).
    expect((await postLogin(server, form, { username: "bob", password: "bob's password" })).status).toBe(303);
  });

  it("does not let a burst of concurrent guesses outrun the lock", async () => {
    const server = await setUp({ hashConcurrency: 1 });
    const form = await formSession(server);
    const answers = await Promise.all(Array.from({ length: 24 }, () => postLogin(server, form, WRONG)));
    const statuses = answers.map((a) => a.status);
    // Every guess beyond the fifth is refused unhashed, even those that arrived before any failure was counted.
    expect(verifications(server)).toBe(5);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(19);
  });

  it("answers a locked username while the hash queue is full", async () => {
    const server = await setUp({ hashConcurrency: 1, hashQueueLimit: 2, throttle: QUICK });
    const form = await formSession(server);
    for (let i = 0; i < 2; i += 1) await postLogin(server, form, { username: "bob", password: "not bob's" });
    let settled = 0;
    const load = Array.from({ length: 4 }, () => postLogin(server, form, ALICE).then((a) => ((settled += 1), a.status)));
    // One running, two waiting, and the fourth turned away: the queue is full.
    const first = await Promise.race(load);
    expect(first).toBe(503);
    const before = verifications(server);
    const locked = await postLogin(server, form, { username: "bob", password: "bob's password" });
    expect(locked.status).toBe(429);
    expect(settled).toBeLessThan(4);
    expect((await Promise.all(load)).sort()).toEqual([303, 303, 303, 503]);
  });

  it("unlocks when the lock time has passed", async () => {
    let now = Math.floor(Date.now() / 1000);
    const server = await setUp({ throttle: QUICK }, () => now);
    const form = await formSession(server);
    for (let i = 0; i < 2; i += 1) await postLogin(server, form, WRONG);
    now += 599;
    expect((await postLogin(server, form, ALICE)).status).toBe(429);
    now += 2;
    expect((await postLogin(server, form, ALICE)).status).toBe(303);
  });

  it("is cleared by `ssoctl user unlock` while the server runs", async () => {
    const server = await setUp({ throttle: QUICK });
    const form = await formSession(server);
    for (let i = 0; i < 2; i += 1) await postLogin(server, form, WRONG);
    expect((await postLogin(server, form, ALICE)).status).toBe(429);
    const unlock = await runCli(["user", "unlock", "Alice", "-d", data!.dataDir.dir]);
    expect(unlock.code).toBe(0);
    expect(unlock.stdout).toMatch(/^Unlocked /);
    expect((await postLogin(server, form, ALICE)).status).toBe(303);
  });

  it("keeps its counts across a restart of the server", async () => {
    const server = await setUp({ throttle: QUICK });
    expect((await postLogin(server, await formSession(server), WRONG)).status).toBe(401);
    await servers.pop()!.close();

    const restarted = await startServer(data!, { throttle: QUICK });
    servers.push(restarted);
    const form2 = await formSession(restarted);
    expect((await postLogin(restarted, form2, WRONG)).status).toBe(401);
    expect((await postLogin(restarted, form2, ALICE)).status).toBe(429);
    await servers.pop()!.close();

    const again = await startServer(data!, { throttle: QUICK });
    servers.push(again);
    expect((await postLogin(again, await formSession(again), ALICE)).status).toBe(429);
    expect(verifications(again)).toBe(0);
  });
});

describe("throttling per client address", () => {
  it("locks an address after 20 failures across different usernames", async () => {
    const server = await setUp();
    const form = await formSession(server);
    const failures = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postLogin(server, form, { username: `nobody${i}`, password: "guess guess" })),
    );
    expect(failures.map((f) => f.status)).toEqual(Array(20).fill(401));
    const before = verifications(server);
    const locked = await postLogin(server, form, ALICE);
    expect(locked.status).toBe(429);
    // The lock runs from the failures' own time, which a loaded queue may put a little in the past.
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(500);
    expect(verifications(server)).toBe(before);
    expect(server.auditLines.at(-1)).toContain('"reason":"throttled_addr"');
  });

  it("takes the address from X-Forwarded-For when the peer is a trusted proxy", async () => {
    // Default --trusted-proxy is loopback, and the tests connect from 127.0.0.1.
    const server = await setUp({ throttle: QUICK });
    const form = await formSession(server);
    for (let i = 0; i < 3; i += 1) {
      await postLogin(server, form, { username: `nobody${i}`, password: "guess guess" }, { forwardedFor: "203.0.113.7" });
    }
    expect(await server.store.getThrottle("addr", "203.0.113.7")).toMatchObject({ failures: 3 });
    expect(await server.store.getThrottle("addr", "127.0.0.1")).toBeNull();
    expect((await postLogin(server, form, ALICE, { forwardedFor: "203.0.113.7" })).status).toBe(429);
    // A client cannot step around its lock by adding entries in front: the proxy appends the real one.
    expect((await postLogin(server, form, ALICE, { forwardedFor: "198.51.100.1, 203.0.113.7" })).status).toBe(429);
    // Another client behind the same proxy is not affected.
    expect((await postLogin(server, form, ALICE, { forwardedFor: "198.51.100.9" })).status).toBe(303);
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const server = await setUp({ trustedProxies: ["10.0.0.0/8"], throttle: QUICK });
    const form = await formSession(server);
    for (let i = 0; i < 3; i += 1) {
      await postLogin(server, form, { username: `nobody${i}`, password: "guess guess" }, { forwardedFor: `198.51.100.${i}` });
    }
    expect(await server.store.getThrottle("addr", "127.0.0.1")).toMatchObject({ failures: 3 });
    expect(await server.store.getThrottle("addr", "198.51.100.0")).toBeNull();
    expect((await postLogin(server, form, ALICE, { forwardedFor: "198.51.100.200" })).status).toBe(429);
  });
});

describe("ssoctl serve throttling flags", () => {
  it("applies --max-user-failures, --max-addr-failures and --lockout", async () => {
    data = cloneDataDir(template);
    child = await spawnServe(data.dataDir.dir, ["--max-user-failures", "2", "--max-addr-failures", "4", "--lockout", "90s"]);
    const form = await formSession(child);
    for (let i = 0; i < 2; i += 1) expect((await postLogin(child, form, WRONG)).status).toBe(401);
    const userLock = await postLogin(child, form, ALICE);
    expect(userLock.status).toBe(429);
    expect(Number(userLock.headers["retry-after"])).toBeGreaterThan(80);
    expect(Number(userLock.headers["retry-after"])).toBeLessThanOrEqual(90);
    for (let i = 0; i < 2; i += 1) expect((await postLogin(child, form, { username: "bob", password: "nope nope" })).status).toBe(401);
    // Four failures from this address: carol, never tried, is refused too.
    expect((await postLogin(child, form, { username: "carol", password: "carol's password" })).status).toBe(429);
  });
});
