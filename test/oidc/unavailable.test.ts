/**
 * The OpenID provider when its database cannot be read: every endpoint that needs it answers 503
 * with Retry-After (OAuth's `temporarily_unavailable` for a client, the "temporarily unavailable"
 * page for a browser), and no stack trace reaches the log without SSOCTL_DEBUG.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { mark, outputSince } from "../support/output.js";
import { Browser, registerClient } from "./support.js";
import { PassportRp, discover, type Discovery } from "./independent-clients.js";

const ALICE = { username: "alice", password: "correct horse battery" };
const CALLBACK = "http://rp.example.test/callback";

let data: TestDataDir;
let server: RunningServer;
let meta: Discovery;

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE] });
  server = await startServer(data);
  meta = await discover(server.url);
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

describe("OpenID Connect with the database gone", () => {
  it("answers 503 with Retry-After at every endpoint, JSON for clients and a page for browsers, with no stack trace", async () => {
    const registered = await registerClient(server.store, { name: "wiki", redirectUris: [CALLBACK] });
    const rp = new PassportRp(meta, { clientId: registered.clientId, secret: registered.secret! }, CALLBACK);
    const browser = new Browser();
    const flow = await browser.navigate(await rp.start(), { stopAt: CALLBACK, credentials: ALICE, server: server.url });
    const tokens = await rp.finish(flow.arrivedAt!);
    if (tokens.kind !== "success") throw new Error(JSON.stringify(tokens));
    const basic = `Basic ${Buffer.from(`${registered.clientId}:${registered.secret}`).toString("base64")}`;
    const form = { "content-type": "application/x-www-form-urlencoded", authorization: basic };

    const start = mark();
    await server.login.context.store.close();
    const calls: Array<{ what: string; method: "GET" | "POST"; url: string; headers?: Record<string, string>; body?: string; json: boolean }> = [
      { what: "token", method: "POST", url: meta.token_endpoint, headers: form, body: "grant_type=refresh_token&refresh_token=abc", json: true },
      { what: "token (code)", method: "POST", url: meta.token_endpoint, headers: form, body: `grant_type=authorization_code&code=abc&redirect_uri=${encodeURIComponent(CALLBACK)}`, json: true },
      { what: "userinfo", method: "GET", url: meta.userinfo_endpoint, headers: { authorization: `Bearer ${tokens.accessToken}` }, json: true },
      { what: "revocation", method: "POST", url: meta.revocation_endpoint, headers: form, body: `token=${tokens.accessToken}`, json: true },
      { what: "authorization", method: "GET", url: await rp.start(), headers: { accept: "text/html", cookie: browser.cookieHeader() }, json: false },
      { what: "end session", method: "GET", url: `${server.url}/oidc/session/end`, headers: { accept: "text/html", cookie: browser.cookieHeader() }, json: false },
      { what: "end session (confirm)", method: "POST", url: `${server.url}/oidc/session/end/confirm`, headers: { accept: "text/html", "content-type": "application/x-www-form-urlencoded", cookie: browser.cookieHeader() }, body: "xsrf=x&logout=yes", json: false },
    ];
    for (const call of calls) {
      const reply = await request(call.url, { method: call.method, headers: call.headers, body: call.body });
      const text = await reply.body.text();
      expect({ what: call.what, status: reply.statusCode, retryAfter: reply.headers["retry-after"] }).toEqual({ what: call.what, status: 503, retryAfter: "5" });
      if (call.json) {
        expect(JSON.parse(text)).toMatchObject({ error: "temporarily_unavailable" });
      } else {
        expect(reply.headers["content-type"]).toMatch(/^text\/html/);
        expect(text).toContain("Temporarily unavailable");
      }
    }
    // What needs no database still answers.
    expect((await request(`${server.url}/.well-known/openid-configuration`)).statusCode).toBe(200);
    expect((await request(`${server.url}/oidc/jwks`)).statusCode).toBe(200);
    const logged = outputSince(start);
    expect(logged).not.toMatch(/^\s+at /m);
    expect(logged).not.toContain('"stack"');
  });
});
