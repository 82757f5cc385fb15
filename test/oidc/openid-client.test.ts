/**
 * ssoctl as an OpenID provider, with openid-client as the relying party: discovery, the code flow
 * with PKCE, the ID token checked against the published JWKS, userinfo, refresh, logout, and the
 * refusals (replayed code, wrong redirect URI, unknown client, missing PKCE, tampered hint).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FileOidcKeys, rotateOidcKeys } from "../../src/protocols/oidc/keys.js";
import * as client from "openid-client";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { Browser, registerClient } from "./support.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Liddell", email: "alice@example.com", groups: ["staff", "dev"] };
const BOB = { username: "bob", password: "another good password" };
const RP = "http://rp.example.test";
const CALLBACK = `${RP}/callback`;
const AFTER_LOGOUT = `${RP}/signed-out`;

let data: TestDataDir;
let server: RunningServer;
let confidential: { clientId: string; secret: string | null };
let publicClient: { clientId: string; secret: string | null };
let es256Client: { clientId: string; secret: string | null };

// oidc-provider prints NOTICE lines (to stdout, where the audit lines go) for every default it
// wants changed; the configuration leaves none.
const notices = vi.spyOn(console, "info");

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE, BOB], apps: [RP] });
  server = await startServer(data);
  confidential = await registerClient(server.store, { name: "grafana", redirectUris: [CALLBACK], postLogoutUris: [AFTER_LOGOUT] });
  publicClient = await registerClient(server.store, { name: "spa", redirectUris: [CALLBACK], public: true });
  es256Client = await registerClient(server.store, { name: "gitea", redirectUris: [CALLBACK], idTokenAlg: "ES256" });
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

async function discover(c: { clientId: string; secret: string | null }, auth?: client.ClientAuth): Promise<client.Configuration> {
  return client.discovery(new URL(server.url), c.clientId, c.secret ?? undefined, auth ?? (c.secret === null ? client.None() : undefined), {
    execute: [client.allowInsecureRequests],
  });
}

/** One authorization request as a browser makes it; returns the callback URL and the verifier. */
async function authorize(
  browser: Browser,
  config: client.Configuration,
  options: { credentials?: { username: string; password: string }; scope?: string; extra?: Record<string, string>; pkce?: boolean } = {},
): Promise<{ callback: string | null; verifier: string; state: string; pages: number; final: { status: number; body: string } }> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const params: Record<string, string> = { redirect_uri: CALLBACK, scope: options.scope ?? "openid profile email groups", state, ...options.extra };
  if (options.pkce !== false) {
    params.code_challenge = await client.calculatePKCECodeChallenge(verifier);
    params.code_challenge_method = "S256";
  }
  const url = client.buildAuthorizationUrl(config, params);
  const result = await browser.navigate(url.href, { stopAt: RP, credentials: options.credentials, server: server.url });
  return { callback: result.arrivedAt, verifier, state, pages: result.pages, final: result.final };
}

describe("discovery", () => {
  it("serves the issuer's configuration with endpoints under /oidc/", async () => {
    const config = await discover(confidential);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(server.url);
    for (const endpoint of [meta.authorization_endpoint, meta.token_endpoint, meta.userinfo_endpoint, meta.jwks_uri, meta.end_session_endpoint]) {
      expect(endpoint?.startsWith(`${server.url}/oidc/`)).toBe(true);
    }
    expect(meta.code_challenge_methods_supported).toContain("S256");
    expect(meta.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(["RS256", "ES256"]));
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["client_secret_basic", "client_secret_post"]));
  });
});

describe("authorization code flow with PKCE", () => {
  it("signs in on ssoctl's page once, then the ID token verifies against the JWKS and carries the claims", async () => {
    const config = await discover(confidential);
    const browser = new Browser();
    const first = await authorize(browser, config, { credentials: ALICE });
    expect(first.pages).toBe(1); // ssoctl's login page, nothing else (no consent page)
    const loginPage = browser.steps.find((s) => s.body.includes('name="password"'))!;
    expect(loginPage.body).toContain("Sign in to continue to <strong>grafana</strong>");
    expect(loginPage.body).toContain(RP);
    expect(first.callback).not.toBeNull();
    const tokens = await client.authorizationCodeGrant(config, new URL(first.callback!), { pkceCodeVerifier: first.verifier, expectedState: first.state });

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, jwks, { issuer: server.url, audience: confidential.clientId });
    expect(protectedHeader.alg).toBe("RS256");
    expect(payload.sub).not.toContain("alice");
    expect(payload.sub!.length).toBeGreaterThanOrEqual(20);
    expect(payload.amr).toEqual(["pwd"]);
    expect(typeof payload.auth_time).toBe("number");

    const info = await client.fetchUserInfo(config, tokens.access_token, payload.sub!);
    expect(info).toMatchObject({ sub: payload.sub, name: "Alice Liddell", preferred_username: "alice", email: "alice@example.com", groups: ["staff", "dev"] });

    // Signed in at ssoctl: the next sign-in shows no page at all.
    const second = await authorize(browser, config);
    expect(second.pages).toBe(0);
    const again = await client.authorizationCodeGrant(config, new URL(second.callback!), { pkceCodeVerifier: second.verifier, expectedState: second.state });
    expect(again.claims()!.sub).toBe(payload.sub); // the same subject every time
  });

  it("a code is good once: a replay is refused with invalid_grant", async () => {
    const config = await discover(confidential);
    const browser = new Browser();
    const flow = await authorize(browser, config, { credentials: ALICE });
    await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    await expect(
      client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state }),
    ).rejects.toMatchObject({ error: "invalid_grant" });
  });

  it("a wrong code verifier is refused", async () => {
    const config = await discover(confidential);
    const flow = await authorize(new Browser(), config, { credentials: ALICE });
    await expect(
      client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: flow.state }),
    ).rejects.toMatchObject({ error: "invalid_grant" });
  });

  it("client_secret_post works too; a wrong secret is refused", async () => {
    const config = await discover(confidential, client.ClientSecretPost(confidential.secret!));
    const flow = await authorize(new Browser(), config, { credentials: ALICE });
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.access_token).toBeTruthy();

    const wrong = await discover({ clientId: confidential.clientId, secret: "not-the-secret" });
    const flow2 = await authorize(new Browser(), wrong, { credentials: ALICE });
    await expect(
      client.authorizationCodeGrant(wrong, new URL(flow2.callback!), { pkceCodeVerifier: flow2.verifier, expectedState: flow2.state }),
    ).rejects.toMatchObject({ error: "invalid_client" });
  });

  it("offers refresh tokens for offline_access, and they work", async () => {
    const config = await discover(confidential);
    const flow = await authorize(new Browser(), config, { credentials: ALICE, scope: "openid profile offline_access", extra: { prompt: "consent" } });
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.refresh_token).toBeTruthy();
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    // Revoked, the refresh token is dead.
    await client.tokenRevocation(config, refreshed.refresh_token ?? tokens.refresh_token!);
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token ?? tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
  });

  it("signs ID tokens with ES256 for a client registered so", async () => {
    const config = await discover(es256Client);
    const flow = await authorize(new Browser(), config, { credentials: ALICE });
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe("ES256");
    const jwks = createRemoteJWKSet(new URL(`${server.url}/oidc/jwks`));
    await jwtVerify(tokens.id_token!, jwks, { issuer: server.url, audience: es256Client.clientId });
  });

  it("a public client gets tokens with PKCE and without a secret", async () => {
    const config = await discover(publicClient);
    const flow = await authorize(new Browser(), config, { credentials: ALICE });
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.claims()!.aud).toBe(publicClient.clientId);
  });
});

describe("sign-out and revocation at ssoctl stop silent sign-ins", () => {
  it("after an ssoctl logout the client gets the login page again", async () => {
    const config = await discover(confidential);
    const browser = new Browser();
    await authorize(browser, config, { credentials: ALICE });
    await browser.fetch(`${server.url}/logout`);
    const next = await authorize(browser, config);
    expect(next.callback).toBeNull();
    expect(next.final.status).toBe(200);
    expect(next.final.body).toContain('name="password"');
  });

  it("after `session revoke` too, and prompt=none then answers login_required", async () => {
    const config = await discover(confidential);
    const browser = new Browser();
    await authorize(browser, config, { credentials: BOB });
    await server.store.deleteUserSessions("bob");
    const silent = await authorize(browser, config, { extra: { prompt: "none" } });
    expect(silent.callback).not.toBeNull();
    expect(new URL(silent.callback!).searchParams.get("error")).toBe("login_required");
  });

  it("RP-initiated logout asks once, ends the ssoctl session and returns to the registered URI", async () => {
    const config = await discover(confidential);
    const browser = new Browser();
    const flow = await authorize(browser, config, { credentials: ALICE });
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    const ssoctlCookie = browser.cookies.get("ssoctl");
    expect(ssoctlCookie).toBeTruthy();

    const endUrl = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: AFTER_LOGOUT, state: "s1" });
    const confirm = await browser.fetch(endUrl.href);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain("Sign out?");
    const action = /<form class="form" method="post" action="([^"]+)"/.exec(confirm.body)![1]!.replaceAll("&#34;", '"').replaceAll("&amp;", "&");
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.body)![1]!;
    const done = await browser.fetch(action, { method: "POST", form: { xsrf, logout: "yes" }, origin: server.url });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${AFTER_LOGOUT}?state=s1`);
    expect(browser.cookies.has("ssoctl")).toBe(false);
    // The ssoctl session itself ended: the old cookie no longer signs anyone in.
    const replayed = new Browser();
    replayed.cookies.set("ssoctl", ssoctlCookie!);
    const page = await replayed.fetch(`${server.url}/login`);
    expect(page.body).toContain('name="password"');
  });
});

describe("bad input: the errors the spec names, nothing leaked", () => {
  it("a redirect URI the client did not register gets an error page, never a redirect there", async () => {
    const config = await discover(confidential);
    const url = client.buildAuthorizationUrl(config, { redirect_uri: "https://evil.example/cb", scope: "openid", code_challenge: "x".repeat(43), code_challenge_method: "S256" });
    const step = await new Browser().fetch(url.href);
    expect(step.status).toBe(400);
    expect(step.location).toBeUndefined();
    expect(step.body).toContain("invalid_redirect_uri");
    expect(step.body).not.toContain("evil.example/cb\"");
    expect(step.body).toContain("ssoctl.css");
  });

  it("an unknown client gets an error page", async () => {
    const step = await new Browser().fetch(`${server.url}/oidc/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(CALLBACK)}`);
    expect(step.status).toBe(400);
    expect(step.location).toBeUndefined();
    expect(step.body).toContain("not registered");
  });

  it("a public client without PKCE is refused (back at its registered URI, with the error)", async () => {
    const config = await discover(publicClient);
    const flow = await authorize(new Browser(), config, { credentials: ALICE, pkce: false });
    expect(flow.callback).not.toBeNull();
    const answer = new URL(flow.callback!).searchParams;
    expect(answer.get("error")).toBe("invalid_request");
    expect(answer.get("code")).toBeNull();
  });

  it("a tampered id_token_hint at logout is refused with an error page", async () => {
    const config = await discover(confidential);
    const browser = new Browser();
    const flow = await authorize(browser, config, { credentials: ALICE });
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    const [h, p, s] = tokens.id_token!.split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
    const forged = [h, Buffer.from(JSON.stringify({ ...claims, sub: "someone-else" })).toString("base64url"), s].join(".");
    const step = await browser.fetch(client.buildEndSessionUrl(config, { id_token_hint: forged, post_logout_redirect_uri: AFTER_LOGOUT }).href);
    expect(step.status).toBe(400);
    expect(step.location).toBeUndefined();
    expect(step.body).toContain("id_token_hint");
    // Still signed in: nothing was ended.
    expect((await authorize(browser, config)).pages).toBe(0);
  });

  it("hostile query strings never get a 500", async () => {
    const browser = new Browser();
    for (const path of [
      "/oidc/auth?client_id=%ff%fe&redirect_uri=%00",
      "/oidc/auth?client_id=a&client_id=b",
      "/oidc/token",
      "/oidc/me",
      "/oidc/session/end?id_token_hint=not.a.jwt",
      "/oidc/auth/../../etc/passwd",
      "/oidc/%",
      "/login/oidc/unknown-uid",
      "/login/oidc/",
    ]) {
      const step = await browser.fetch(`${server.url}${path}`);
      expect(step.status, path).toBeGreaterThanOrEqual(400);
      expect(step.status, path).toBeLessThan(500);
    }
  });
});

describe("signing keys", () => {
  it("key rotate: new keys sign, the old ones stay in the JWKS, so an ID token from before still verifies", async () => {
    const config = await discover(confidential);
    const before = await authorize(new Browser(), config, { credentials: ALICE });
    const oldTokens = await client.authorizationCodeGrant(config, new URL(before.callback!), { pkceCodeVerifier: before.verifier, expectedState: before.state });
    const oldKid = decodeProtectedHeader(oldTokens.id_token!).kid;

    const [newRsaKid] = await rotateOidcKeys(new FileOidcKeys(data.dataDir), 3600, Math.floor(Date.now() / 1000));
    await server.login.oidc.refresh();

    const jwks = (await (await fetch(`${server.url}/oidc/jwks`)).json()) as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newRsaKid]));
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true); // public keys only
    const after = await authorize(new Browser(), config, { credentials: ALICE });
    const newTokens = await client.authorizationCodeGrant(config, new URL(after.callback!), { pkceCodeVerifier: after.verifier, expectedState: after.state });
    expect(decodeProtectedHeader(newTokens.id_token!).kid).toBe(newRsaKid);
    const keySet = createRemoteJWKSet(new URL(`${server.url}/oidc/jwks`));
    await jwtVerify(oldTokens.id_token!, keySet, { issuer: server.url, audience: confidential.clientId, currentDate: new Date() });
  });
});

describe("hostile requests to the token endpoint", () => {
  it.each([
    ["a JSON body", "application/json", '{"grant_type":"authorization_code"'],
    ["a malformed form", "application/x-www-form-urlencoded", "grant_type=%zz&code=%"],
    ["a large body", "application/x-www-form-urlencoded", `grant_type=authorization_code&code=${"x".repeat(200_000)}`],
    ["a bad Basic header", "application/x-www-form-urlencoded", "grant_type=authorization_code"],
  ])("%s gets a 4xx, never a 500", async (_label, contentType, body) => {
    const response = await fetch(`${server.url}/oidc/token`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: "Basic !!!" },
      body,
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(await response.text()).not.toMatch(/at .*\.js:\d+/);
  });
});

describe("a disabled user", () => {
  it("loses userinfo and the refresh grant at once", async () => {
    const config = await discover(confidential);
    const flow = await authorize(new Browser(), config, { credentials: BOB, scope: "openid profile offline_access", extra: { prompt: "consent" } });
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.callback!), { pkceCodeVerifier: flow.verifier, expectedState: flow.state });
    expect(tokens.refresh_token).toBeTruthy();
    await server.store.setDisabled("bob", true);
    try {
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
      await expect(client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).rejects.toBeTruthy();
    } finally {
      await server.store.setDisabled("bob", false);
    }
  });
});

describe("quiet", () => {
  it("oidc-provider printed no notices during all of the above", () => {
    expect(notices.mock.calls.map((c) => String(c[0])).filter((line) => line.includes("oidc-provider"))).toEqual([]);
  });
});
