/**
 * What relying parties expect beyond the happy path, with clients that are not openid-client
 * (passport-openidconnect, @badgateway/oauth2-client) and raw HTTP where headers matter:
 * the claims of granted scopes in the ID token, the `claims` request parameter, RFC 6749's
 * Pragma beside no-store, RFC 7009's refusal of another client's token, and a revocation answer
 * every client can parse. (Concurrent redemptions race for real on PostgreSQL: postgres.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OAuth2HttpError } from "@badgateway/oauth2-client";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { Browser, registerClient } from "./support.js";
import { PassportRp, discover, oauth2Client, tokenOf, type Discovery } from "./independent-clients.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Liddell", email: "alice@example.com", groups: ["staff", "dev"] };
const CALLBACK = "http://rp.example.test/callback";

let data: TestDataDir;
let server: RunningServer;
let meta: Discovery;
let wiki: { clientId: string; secret: string };
let chat: { clientId: string; secret: string };

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE] });
  server = await startServer(data);
  const a = await registerClient(server.store, { name: "wiki", redirectUris: [CALLBACK] });
  const b = await registerClient(server.store, { name: "chat", redirectUris: [CALLBACK] });
  wiki = { clientId: a.clientId, secret: a.secret! };
  chat = { clientId: b.clientId, secret: b.secret! };
  meta = await discover(server.url);
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

async function signIn(rp: PassportRp, browser = new Browser()): Promise<{ accessToken: string; refreshToken: string | undefined; claims: Record<string, unknown> }> {
  const flow = await browser.navigate(await rp.start(), { stopAt: CALLBACK, credentials: ALICE, server: server.url });
  const outcome = await rp.finish(flow.arrivedAt!);
  if (outcome.kind !== "success") throw new Error(JSON.stringify(outcome));
  return outcome;
}

/** A code for the wiki, fetched by the browser, not yet redeemed. */
async function codeFor(client: { clientId: string }): Promise<string> {
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({ client_id: client.clientId, response_type: "code", scope: "openid offline_access", redirect_uri: CALLBACK, state: "s1" }).toString();
  const flow = await new Browser().navigate(url.href, { stopAt: CALLBACK, credentials: ALICE, server: server.url });
  return new URL(flow.arrivedAt!).searchParams.get("code")!;
}

function redeem(client: { clientId: string; secret: string }, code: string): Promise<Response> {
  return fetch(meta.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString("base64")}` },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: CALLBACK }).toString(),
  });
}

describe("claims", () => {
  it("puts the granted scopes' claims in the ID token", async () => {
    const { claims } = await signIn(new PassportRp(meta, wiki, CALLBACK, { loadUserInfo: false }));
    expect(claims).toMatchObject({ name: "Alice Liddell", preferred_username: "alice", email: "alice@example.com", email_verified: true, groups: ["staff", "dev"] });
  });

  it("leaves out the claims of scopes not asked for", async () => {
    const { claims } = await signIn(new PassportRp(meta, wiki, CALLBACK, { scope: "email", loadUserInfo: false }));
    expect(claims).toMatchObject({ email: "alice@example.com" });
    expect(claims).not.toHaveProperty("groups");
    expect(claims).not.toHaveProperty("preferred_username");
  });

  it("honours the claims request parameter, and says so in discovery", async () => {
    expect(meta.claims_parameter_supported).toBe(true);
    const rp = new PassportRp(meta, wiki, CALLBACK, { scope: "", loadUserInfo: false, claims: { id_token: { preferred_username: null, groups: { essential: true } } } });
    const { claims } = await signIn(rp);
    expect(claims).toMatchObject({ preferred_username: "alice", groups: ["staff", "dev"] });
    expect(claims).not.toHaveProperty("email");
  });
});

describe("token and revocation answers", () => {
  it("the token response carries Pragma: no-cache beside Cache-Control: no-store", async () => {
    const reply = await redeem(wiki, await codeFor(wiki));
    expect(reply.status).toBe(200);
    expect(reply.headers.get("cache-control")).toBe("no-store");
    expect(reply.headers.get("pragma")).toBe("no-cache");
  });

  it("revoking another client's token is refused with an error, and the token keeps working", async () => {
    const { refreshToken } = await signIn(new PassportRp(meta, wiki, CALLBACK, { scope: "offline_access" }));
    expect(refreshToken).toBeTruthy();
    const refused = await oauth2Client(meta, chat).revoke(tokenOf(refreshToken!), "refresh_token").then(
      () => null,
      (error: OAuth2HttpError) => ({ code: error.oauth2Code, status: error.httpCode }),
    );
    expect(refused).toEqual({ code: "unauthorized_client", status: 400 });
    const refreshed = await oauth2Client(meta, wiki).refreshToken(tokenOf(refreshToken!));
    expect(refreshed.accessToken).toBeTruthy();
  });

  it("revoking its own token answers a JSON body any client can parse, and the token is dead", async () => {
    const { refreshToken } = await signIn(new PassportRp(meta, wiki, CALLBACK, { scope: "offline_access" }));
    const reply = await fetch(meta.revocation_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${wiki.clientId}:${wiki.secret}`).toString("base64")}` },
      body: new URLSearchParams({ token: refreshToken!, token_type_hint: "refresh_token" }).toString(),
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await reply.json()).toEqual({});
    await expect(oauth2Client(meta, wiki).refreshToken(tokenOf(refreshToken!))).rejects.toMatchObject({ oauth2Code: "invalid_grant" });
  });
});
