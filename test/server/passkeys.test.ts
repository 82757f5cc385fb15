/** Passkeys on the server side: the rpID at start-up, challenges taken once, and every refusal. (The ceremony itself: test/e2e/factors.test.ts.) */
import * as net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { passkeysUnavailable } from "../../src/factors/passkeys.js";
import { cookieHeader, fetchPage, makeDataDir, openLoginForm, postForm, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

const ALICE = { username: "alice", password: "correct horse battery" };

/** A port free a moment ago, for a server whose public URL must name it (http://localhost:PORT). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function hiddenField(html: string, name: string): string {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
}

function optionsOf(html: string): Record<string, unknown> {
  const raw = /data-options="([^"]*)"/.exec(html)![1]!.replace(/&#34;/g, '"').replace(/&quot;/g, '"').replace(/&amp;/g, "&");
  return JSON.parse(raw) as Record<string, unknown>;
}

describe("passkeys on the server", () => {
  let data: TestDataDir;
  let server: RunningServer | undefined;

  beforeEach(async () => {
    data = await makeDataDir({ users: [ALICE] });
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    data.cleanup();
  });

  it("refuses to start with another rpID than the passkeys were registered for, unless told", async () => {
    server = await startServer(data);
    await server.store.factors.setSetting("webauthn_rp_id", "sso.example.com");
    await server.close();
    server = undefined;
    await expect(startServer(data)).rejects.toThrow(/registered for sso\.example\.com, but this server would use 127\.0\.0\.1.*--allow-new-passkey-domain/);
    server = await startServer(data, { allowNewPasskeyDomain: true });
    expect(await server.store.factors.getSetting("webauthn_rp_id")).toBe("127.0.0.1");
  });

  it("offers no passkey on an IP-address host, where browsers refuse WebAuthn, and the account page says why", async () => {
    server = await startServer(data);
    const form = await openLoginForm(server);
    expect(form.page.status).toBe(200);
    expect(form.page.body).not.toContain("passkey");
    const signed = await signIn(server, ALICE);
    const account = await fetchPage(`${server.url}/account`, { headers: { cookie: `ssoctl=${signed.cookie}` } });
    expect(account.body).not.toContain("Add a passkey");
    expect(account.body).toContain("Passkeys need a host name: browsers refuse them on an IP address such as 127.0.0.1.");
  });

  it("offers them on a host name (localhost)", async () => {
    const port = await freePort();
    server = await startServer(data, { port, publicUrl: `http://localhost:${port}` });
    const form = await openLoginForm(server);
    expect(form.page.body).toContain("Sign in with a passkey");
  });

  it.each([
    [{ publicUrl: "http://127.0.0.1:8081" }, false],
    [{ publicUrl: "http://[::1]:8081" }, false],
    [{ publicUrl: "https://192.0.2.10" }, false],
    [{ publicUrl: "http://localhost:8081" }, true],
    [{ publicUrl: "https://sso.example.com" }, true],
    // The relying party is the cookie domain when there is one.
    [{ publicUrl: "https://sso.example.com", cookieDomain: "example.com" }, true],
  ])("passkeys work at %j: %s", (config, work) => {
    expect(passkeysUnavailable(config) === null).toBe(work);
  });

  it("offers a discoverable sign-in needing user verification, through a static script allowed by the CSP", async () => {
    server = await startServer(data);
    const form = await openLoginForm(server);
    const page = await postForm(server, "/login/passkey/start", { csrf: form.csrf }, { cookie: cookieHeader(form.cookies) });
    expect(page.status).toBe(200);
    const options = optionsOf(page.body);
    expect(options.rpId).toBe("127.0.0.1");
    expect(options.userVerification).toBe("required");
    expect(options.allowCredentials).toEqual([]);
    expect(page.body).toContain('<script src="/static/passkey.js" defer></script>');
    expect(page.body).not.toMatch(/<script>/);
    expect(String(page.headers["content-security-policy"])).toContain("script-src 'self'");
    const script = await fetchPage(`${server.url}/static/passkey.js`);
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.body).toContain("navigator.credentials.get");
  });

  it("refuses a stale or forged challenge, a reused one, a malformed answer and an unknown passkey, clearly; unknown passkeys are counted", async () => {
    server = await startServer(data);
    const form = await openLoginForm(server);
    const cookie = cookieHeader(form.cookies);
    const start = async (): Promise<string> => hiddenField((await postForm(server!, "/login/passkey/start", { csrf: form.csrf }, { cookie })).body, "pending");
    const finish = (pending: string, response: string): ReturnType<typeof postForm> => postForm(server!, "/login/passkey/finish", { csrf: form.csrf, pending, response }, { cookie });

    const forged = await finish("A".repeat(22), "{}");
    expect(forged.status).toBe(400);
    expect(forged.body).toContain("expired or was already used");

    const malformed = await finish(await start(), "not json");
    expect(malformed.status).toBe(400);
    expect(malformed.body).toContain("did not send a passkey");

    const pending = await start();
    const unknown = await finish(pending, JSON.stringify({ id: "no-such-credential", rawId: "x", type: "public-key", response: {}, clientExtensionResults: {} }));
    expect(unknown.status).toBe(401);
    expect(unknown.body).toContain("not registered here");
    expect((await server.store.getThrottle("addr", "127.0.0.1"))?.failures).toBe(1);
    // The challenge was used up by that attempt.
    const reused = await finish(pending, JSON.stringify({ id: "no-such-credential" }));
    expect(reused.status).toBe(400);
    expect(reused.body).toContain("expired or was already used");

    expect((await postForm(server, "/login/passkey/finish", { csrf: "forged", pending: await start(), response: "{}" }, { cookie })).status).toBe(403);
    expect(server.auditLines.filter((l) => l.includes('"login.failure"') && l.includes('"passkey"')).length).toBeGreaterThanOrEqual(4);
  });

  it("a passkey of someone else cannot be renamed or removed; registration needs a live login and a fresh challenge", async () => {
    server = await startServer(data);
    await server.store.createUser({ username: "bob", name: "", email: "", groups: [], passwordHash: "" }, 1);
    await server.store.factors.addPasskey({ id: "bobs-key", username: "bob", name: "Bob's", publicKey: "pk", counter: 0, transports: [], createdAt: 1 });
    const signed = await signIn(server, ALICE);
    const jar = { ssoctl: signed.cookie };
    const account = await fetchPage(`${server.url}/account`, { headers: { cookie: cookieHeader(jar) } });
    const csrfCookies = Object.fromEntries(String(account.headers["set-cookie"] ?? "").split(/,(?=[^ ])/).map((l) => l.split(";")[0]!.split("=") as [string, string]));
    const cookie = cookieHeader({ ...jar, ...csrfCookies });
    const csrf = hiddenField(account.body, "csrf");
    for (const op of ["rename", "remove"]) {
      const reply = await postForm(server, "/account/passkey", { csrf, op, id: "bobs-key", name: "Mine" }, { cookie });
      expect(reply.status).toBe(404);
      expect(reply.body).toContain("not one of yours");
    }
    expect((await server.store.factors.getPasskey("bobs-key"))?.name).toBe("Bob's");
    const start = await postForm(server, "/account/passkey/start", { csrf }, { cookie });
    expect(start.status).toBe(200);
    const options = optionsOf(start.body);
    expect((options.authenticatorSelection as Record<string, string>).residentKey).toBe("required");
    expect((options.authenticatorSelection as Record<string, string>).userVerification).toBe("required");
    const stale = await postForm(server, "/account/passkey/finish", { csrf, pending: "B".repeat(22), response: "{}", name: "x" }, { cookie });
    expect(stale.status).toBe(400);
    expect(stale.body).toContain("expired or was already used");
    const signedOut = await postForm(server, "/account/passkey/start", { csrf }, { cookie: cookieHeader(csrfCookies) });
    expect(signedOut.status).toBe(401);
  });
});
