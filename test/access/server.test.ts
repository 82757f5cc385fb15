/**
 * Access rules at the real login server: the 403 page, the sign-in to an app the user may not use,
 * forward auth's bypass without identity, the audit trail, and CLI-side changes applying at once.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BROWSER_ACCEPT } from "../forward-auth/support.js";
import { fetchPage, makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

const GRAFANA = "http://grafana.example.test";
const STATUS = "http://status.example.test";
const PASSWORD = "a long password";

let data: TestDataDir;
let server: RunningServer;
let bobCookie: string;
let aliceCookie: string;

beforeAll(async () => {
  data = await makeDataDir({
    users: [
      { username: "alice", password: PASSWORD, groups: ["staff"] },
      { username: "bob", password: PASSWORD, name: "<b>Bob</b>" },
    ],
  });
  server = await startServer(data);
  await server.store.addApp({ name: "Grafana <&>", origin: GRAFANA, allowGroups: ["staff"] }, 1);
  await server.store.addApp({ name: "status", origin: STATUS, policy: "bypass" }, 1);
  const bob = await signIn(server, { username: "bob", password: PASSWORD });
  const alice = await signIn(server, { username: "alice", password: PASSWORD });
  bobCookie = `ssoctl=${bob.cookie}`;
  aliceCookie = `ssoctl=${alice.cookie}`;
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

beforeEach(() => {
  server.auditLines.length = 0;
});

function denials(): Array<Record<string, unknown>> {
  return server.auditLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.event === "access.denied");
}

function authRequest(cookie: string | undefined, url: string, method = "GET"): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return fetchPage(`${server.url}/auth/request`, { headers: { ...(cookie ? { cookie } : {}), "x-original-url": url, "x-original-method": method } });
}

describe("the 403 page", () => {
  it("names the app and the signed-in user, escaped, and offers to sign in as someone else", async () => {
    const target = `${GRAFANA}/d/home?x=1`;
    const reply = await fetchPage(`${server.url}/login?rd=${encodeURIComponent(target)}`, { headers: { cookie: bobCookie } });
    expect(reply.status).toBe(403);
    expect(reply.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(reply.body).toContain("You are signed in as <strong class=\"user\">bob</strong>, who may not use <strong>Grafana &lt;&amp;&gt;</strong>.");
    const href = /href="([^"]*)">Sign in as someone else/.exec(reply.body)?.[1]?.replace(/&amp;/g, "&");
    expect(href).toBe(`${server.url}/logout?rd=${encodeURIComponent(`${server.url}/login?rd=${encodeURIComponent(target)}`)}`);
    // It says no more than needed: not which groups would do.
    expect(reply.body).not.toContain("staff");
  });

  it("after a sign-in to an app the user may not use: signed in (the cookie is set), but a 403 page, not the app", async () => {
    const result = await signIn(server, { username: "bob", password: PASSWORD }, { rd: `${GRAFANA}/` });
    expect(result.status).toBe(403);
    expect(result.cookie).toBeDefined();
    expect(result.location).toBeUndefined();
    expect(result.body).toContain("who may not use");
    expect(denials()).toEqual([expect.objectContaining({ user: "bob", app: GRAFANA, path: "/", reason: "not_allowed", via: "/login" })]);
  });

  it("lets the allowed user through, with the same sign-in", async () => {
    const result = await signIn(server, { username: "alice", password: PASSWORD }, { rd: `${GRAFANA}/` });
    expect(result.status).toBe(303);
    expect(result.location).toBe(`${GRAFANA}/`);
    expect(denials()).toEqual([]);
  });
});

describe("forward auth", () => {
  it("answers 403 to a user who may not use the app, audited with app, path, user and reason (never the query)", async () => {
    const reply = await authRequest(bobCookie, `${GRAFANA}/api/dashboards?token=secret`);
    expect(reply.status).toBe(403);
    expect(reply.body).toBe("access denied\n");
    expect(denials()).toEqual([expect.objectContaining({ user: "bob", app: GRAFANA, path: "/api/dashboards", method: "GET", reason: "not_allowed", via: "/auth/request" })]);
    expect(server.auditLines.join("\n")).not.toContain("secret");
    expect((await server.store.listAudit(1))[0]).toMatchObject({ event: "access.denied", username: "bob" });
  });

  it("/auth/forward shows a browser the 403 page (Caddy and Traefik pass it on)", async () => {
    const reply = await fetchPage(`${server.url}/auth/forward`, {
      headers: { cookie: bobCookie, accept: BROWSER_ACCEPT, "x-forwarded-proto": "http", "x-forwarded-host": "grafana.example.test", "x-forwarded-uri": "/", "x-forwarded-method": "GET" },
    });
    expect(reply.status).toBe(403);
    expect(reply.headers["content-type"]).toMatch(/^text\/html/);
    expect(reply.body).toContain("Sign in as someone else");
  });

  it("bypass: 200 without any identity header for nobody, with them for a signed-in user", async () => {
    const anonymous = await authRequest(undefined, `${STATUS}/`);
    expect(anonymous.status).toBe(200);
    expect(Object.keys(anonymous.headers).filter((h) => h.startsWith("remote-"))).toEqual([]);
    const signedIn = await authRequest(aliceCookie, `${STATUS}/`);
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers["remote-user"]).toBe("alice");
    expect(signedIn.headers["remote-groups"]).toBe("staff");
  });

  it("the login server's own origin is never a target: refused with or without a login", async () => {
    expect((await authRequest(undefined, `${server.url}/x`)).status).toBe(403);
    expect((await authRequest(bobCookie, `${server.url}/x`)).status).toBe(403);
  });

  it("sees changes made beside it at once: groups, the app's audience and rules (another connection, as the CLI)", async () => {
    expect((await authRequest(bobCookie, `${GRAFANA}/`)).status).toBe(403);
    await server.store.updateUser("bob", { groups: ["staff"] });
    expect((await authRequest(bobCookie, `${GRAFANA}/`)).status).toBe(200);
    const rule = await server.store.addRule(GRAFANA, { path: "/admin", methods: [], policy: null, groups: [], users: ["alice"] }, 1);
    expect((await authRequest(bobCookie, `${GRAFANA}/admin/users`)).status).toBe(403);
    expect((await authRequest(aliceCookie, `${GRAFANA}/admin/users`)).status).toBe(200);
    await server.store.removeRule(rule!.id);
    expect((await authRequest(bobCookie, `${GRAFANA}/admin/users`)).status).toBe(200);
    await server.store.updateApp(GRAFANA, { policy: "deny" });
    expect((await authRequest(aliceCookie, `${GRAFANA}/`)).status).toBe(403);
    await server.store.updateApp(GRAFANA, { policy: "one_factor" });
    await server.store.updateUser("bob", { groups: [] });
    expect((await authRequest(bobCookie, `${GRAFANA}/`)).status).toBe(403);
  });
});

describe("the token", () => {
  it("carries the user's groups and amr [\"pwd\"]", async () => {
    const token = aliceCookie.slice("ssoctl=".length);
    const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
    expect(payload).toMatchObject({ sub: "alice", groups: ["staff"], amr: ["pwd"] });
  });
});
