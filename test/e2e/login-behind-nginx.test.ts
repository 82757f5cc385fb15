/**
 * The login server itself behind real nginx, as the README's "The login server behind nginx
 * or Caddy" section shows: per-address throttling sees the client nginx saw, whatever
 * X-Forwarded-For the client sends, and a client that is not a trusted proxy cannot pick
 * its address either. Clients and proxy get addresses of their own on 127.0.0.0/8.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { openSqliteStore, type SqliteStore } from "../../src/store/sqlite/store.js";
import { spawnServe, type ServeProcess } from "../hardening/support.js";
import { cookiesOf, makeDataDir, type TestDataDir } from "../support/server.js";
import { startLoginProxy, type RunningProxy } from "./support/nginx.js";
import { freePort } from "./support/processes.js";

const ALICE = { username: "alice", password: "correct horse" };
const PROXY = "127.0.0.2";
const ADDR_LIMIT = 3;

/** A browser on its own loopback address. */
function clientFrom(localAddress: string): Agent {
  return new Agent({ localAddress });
}

describe("the login server behind nginx", () => {
  let data: TestDataDir;
  let serve: ServeProcess;
  let nginx: RunningProxy;
  let publicUrl: string;
  let store: SqliteStore;
  const agents: Agent[] = [];

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: ["http://app.example.test"] });
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    serve = await spawnServe(data.dataDir.dir, [
      "--public-url", publicUrl,
      "--trusted-proxy", PROXY,
      "--max-addr-failures", String(ADDR_LIMIT),
      "--max-user-failures", "100",
    ]);
    nginx = await startLoginProxy({ loginUrl: serve.url, bind: PROXY, port });
    store = openSqliteStore(data.dataDir.dbPath);
  });
  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.close()));
    await nginx?.stop();
    await serve?.kill();
    await store?.close();
    data?.cleanup();
  });

  /** One sign-in post as a browser does it: the form from GET /login, then the post, both via `base`. */
  async function signInVia(base: string, dispatcher: Agent, password: string, forwardedFor: string): Promise<number> {
    const page = await request(`${base}/login`, { dispatcher, headers: { "x-forwarded-for": forwardedFor } });
    const html = await page.body.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (page.statusCode !== 200 || csrf === undefined) throw new Error(`GET /login answered ${page.statusCode}:\n${nginx.output()}\n${serve.stderr()}`);
    const cookie = Object.entries(cookiesOf(page.headers)).map(([name, value]) => `${name}=${value}`).join("; ");
    const post = await request(`${base}/login`, {
      dispatcher,
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: publicUrl, cookie, "x-forwarded-for": forwardedFor },
      body: new URLSearchParams({ csrf, username: ALICE.username, password }).toString(),
    });
    await post.body.dump();
    return post.statusCode;
  }

  it("locks out a client by the address nginx saw, though it sends a new X-Forwarded-For on every try", async () => {
    const mallory = clientFrom("127.0.0.3");
    const alice = clientFrom("127.0.0.4");
    agents.push(mallory, alice);
    const statuses: number[] = [];
    for (let i = 0; i < ADDR_LIMIT; i += 1) statuses.push(await signInVia(publicUrl, mallory, "wrong password", `198.51.100.${i + 1}`));
    expect(statuses).toEqual(Array(ADDR_LIMIT).fill(401));
    // The right password does not help once the address is locked, nor does yet another address.
    expect(await signInVia(publicUrl, mallory, ALICE.password, "198.51.100.200")).toBe(429);
    expect(await store.getThrottle("addr", "127.0.0.3")).toMatchObject({ failures: ADDR_LIMIT });
    expect(await store.getThrottle("addr", "198.51.100.1")).toBeNull();
    expect(await store.getThrottle("addr", PROXY)).toBeNull();
    // Another client behind the same proxy signs in.
    expect(await signInVia(publicUrl, alice, ALICE.password, "127.0.0.3")).toBe(303);
  });

  it("ignores X-Forwarded-For from a client that connects directly and is not a trusted proxy", async () => {
    const direct = clientFrom("127.0.0.1");
    agents.push(direct);
    for (let i = 0; i < ADDR_LIMIT; i += 1) {
      expect(await signInVia(serve.url, direct, "wrong password", `203.0.113.${i + 1}`)).toBe(401);
    }
    expect(await signInVia(serve.url, direct, ALICE.password, "203.0.113.99")).toBe(429);
    expect(await store.getThrottle("addr", "127.0.0.1")).toMatchObject({ failures: ADDR_LIMIT });
    expect(await store.getThrottle("addr", "203.0.113.1")).toBeNull();
  });

  it("does not answer forward auth to the public", async () => {
    const response = await request(`${publicUrl}/auth/request`, { headers: { "x-original-url": "http://app.example.test/", "x-original-method": "GET" } });
    await response.body.dump();
    expect(response.statusCode).toBe(404);
  });
});
