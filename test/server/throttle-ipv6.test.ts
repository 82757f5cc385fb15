/** Per-address throttling counts an IPv6 client by its /64 (configurable): one home connection holds 2^64 addresses. */
import { afterEach, describe, expect, it } from "vitest";
import { makeDataDir, openLoginForm, postForm, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { cookieHeader } from "../support/server.js";

const ALICE = { username: "alice", password: "correct horse battery" };
const QUICK = { addr: { limit: 3, windowSeconds: 600, lockSeconds: 600 } };

describe("throttling IPv6 clients", () => {
  let data: TestDataDir;
  let server: RunningServer;
  afterEach(async () => {
    await server.close();
    data.cleanup();
  });

  async function guess(from: string, credentials = { username: "nobody", password: "guess guess" }): Promise<number> {
    const form = await openLoginForm(server);
    const reply = await postForm(server, "/login", { csrf: form.csrf, ...credentials }, { cookie: cookieHeader(form.cookies), headers: { "x-forwarded-for": from } });
    return reply.status;
  }

  it("locks a /64 after its limit, whichever of its addresses the guesses came from; another /64 is not affected", { timeout: 120_000 }, async () => {
    data = await makeDataDir({ users: [ALICE] });
    server = await startServer(data, { trustedProxies: ["127.0.0.1"], throttle: QUICK });
    for (const host of ["1", "2", "ffff:1"]) expect(await guess(`2001:db8:1:2::${host}`)).toBe(401);
    expect(await server.store.getThrottle("addr", "2001:db8:1:2::/64")).toMatchObject({ failures: 3 });
    expect(await guess("2001:db8:1:2:9:9:9:9", ALICE)).toBe(429);
    expect(await guess("2001:db8:1:3::1", ALICE)).toBe(303);
  });

  it("counts each address alone with a prefix of 128", { timeout: 120_000 }, async () => {
    data = await makeDataDir({ users: [ALICE] });
    server = await startServer(data, { trustedProxies: ["127.0.0.1"], throttle: { addr: { limit: 2, windowSeconds: 600, lockSeconds: 600 }, ipv6Prefix: 128 } });
    for (const host of ["1", "2"]) expect(await guess(`2001:db8:1:2::${host}`)).toBe(401);
    expect(await guess("2001:db8:1:2::3", ALICE)).toBe(303);
  });
});
