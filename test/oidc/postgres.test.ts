/**
 * The OpenID provider on PostgreSQL, two login servers on one database: the keys are made once
 * (at the first start, as after an upgrade) and shared, and a code one server issued is redeemed
 * at the other, once, also when the requests come at the same moment (to both servers); a refresh
 * token is rotated once the same way.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as client from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { Browser, registerClient } from "./support.js";
import { PassportRp, discover, oauth2Client, tokenOf } from "./independent-clients.js";

const ALICE = { username: "alice", password: "correct horse battery", email: "alice@example.com", groups: ["staff"] };
const CALLBACK = "http://rp.example.test/callback";


let cluster: TestPostgres;
let a: PostgresServer;
let b: PostgresServer;
let rp: { clientId: string; secret: string | null };

beforeAll(async () => {
  cluster = await startTestPostgres();
  const url = await cluster.createDatabase();
  await initPostgresDatabase(url, { users: [ALICE] });
  a = await startPostgresServer(url);
  // One public URL (one issuer) for both, as behind a load balancer.
  b = await startPostgresServer(url, { publicUrl: a.url });
  rp = await registerClient(a.store, { name: "wiki", redirectUris: [CALLBACK] });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  cluster?.destroy();
});

describe("OpenID Connect on PostgreSQL", () => {
  it("both servers publish the same keys, made once in the database", async () => {
    const [fromA, fromB] = await Promise.all([a.url, b.url].map(async (base) => (await fetch(`${base}/oidc/jwks`)).json()));
    expect(fromA).toEqual(fromB);
    const rows = await a.store.oidcJwks();
    expect(JSON.parse(rows!).current).toHaveLength(2);
  });

  it("a code issued by one server is redeemed at the other, and only once", async () => {
    const config = await client.discovery(new URL(a.url), rp.clientId, rp.secret!, undefined, { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: "openid email groups",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    });
    const flow = await new Browser().navigate(url.href, { stopAt: CALLBACK, credentials: ALICE, server: a.url });
    const code = new URL(flow.arrivedAt!).searchParams.get("code")!;
    const redeem = (base: string): Promise<Response> =>
      fetch(`${base}/oidc/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.secret}`).toString("base64")}` },
        body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: CALLBACK, code_verifier: verifier }).toString(),
      });
    const atB = await redeem(b.url);
    expect(atB.status).toBe(200);
    const tokens = (await atB.json()) as { id_token: string; access_token: string };
    const { payload } = await jwtVerify(tokens.id_token, createRemoteJWKSet(new URL(`${a.url}/oidc/jwks`)), { issuer: a.url, audience: rp.clientId });
    expect(payload.amr).toEqual(["pwd"]);
    const info = (await (await fetch(`${a.url}/oidc/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ sub: payload.sub, email: "alice@example.com", groups: ["staff"] });
    const again = await redeem(a.url);
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: string }).error).toBe("invalid_grant");
  });

  it("concurrent redemptions of one code on both servers: tokens at most once, the rest invalid_grant, what the code issued revoked", async () => {
    const meta = await discover(a.url);
    for (let round = 0; round < 3; round += 1) {
      const relying = new PassportRp(meta, { clientId: rp.clientId, secret: rp.secret! }, CALLBACK, { scope: "offline_access" });
      const flow = await new Browser().navigate(await relying.start(), { stopAt: CALLBACK, credentials: ALICE, server: a.url });
      const code = new URL(flow.arrivedAt!).searchParams.get("code")!;
      const replies = await Promise.all([a.url, b.url, a.url, b.url].map((base) => tokenRequest(base, { grant_type: "authorization_code", code, redirect_uri: CALLBACK })));
      const bodies = (await Promise.all(replies.map((r) => r.json()))) as Array<{ access_token?: string; refresh_token?: string; error?: string }>;
      const won = bodies.filter((body) => body.access_token !== undefined);
      expect(won.length).toBeLessThanOrEqual(1);
      expect(bodies.filter((body) => body.error === "invalid_grant")).toHaveLength(4 - won.length);
      for (const tokens of won) {
        expect((await relying.userinfo(tokens.access_token!)).status).toBe(401);
        await expect(oauth2Client(meta, { clientId: rp.clientId, secret: rp.secret! }).refreshToken(tokenOf(tokens.refresh_token!))).rejects.toMatchObject({ oauth2Code: "invalid_grant" });
      }
    }
  });

  it("concurrent refreshes of a public client's refresh token on both servers: rotated at most once", async () => {
    // A public client's refresh token is rotated at every use (a confidential one's only late in its life).
    const spa = await registerClient(a.store, { name: "spa", redirectUris: [CALLBACK], public: true });
    const verifier = randomBytes(32).toString("base64url");
    const url = new URL(`${a.url}/oidc/auth`);
    url.search = new URLSearchParams({
      client_id: spa.clientId,
      response_type: "code",
      scope: "openid offline_access",
      redirect_uri: CALLBACK,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    }).toString();
    const flow = await new Browser().navigate(url.href, { stopAt: CALLBACK, credentials: ALICE, server: a.url });
    const code = new URL(flow.arrivedAt!).searchParams.get("code")!;
    const first = (await (await tokenRequest(a.url, { grant_type: "authorization_code", code, redirect_uri: CALLBACK, code_verifier: verifier, client_id: spa.clientId }, null)).json()) as { refresh_token: string };
    expect(first.refresh_token).toBeTruthy();
    const replies = await Promise.all([a.url, b.url, a.url, b.url].map((base) => tokenRequest(base, { grant_type: "refresh_token", refresh_token: first.refresh_token, client_id: spa.clientId }, null)));
    const bodies = (await Promise.all(replies.map((r) => r.json()))) as Array<{ refresh_token?: string; error?: string }>;
    const won = bodies.filter((body) => body.refresh_token !== undefined);
    expect(won.length).toBeLessThanOrEqual(1);
    expect(bodies.filter((body) => body.error === "invalid_grant")).toHaveLength(4 - won.length);
    // A reuse is taken as a stolen token: the grant ends, so the rotated token is dead too.
    for (const tokens of won) {
      const again = (await (await tokenRequest(a.url, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: spa.clientId }, null)).json()) as { error?: string };
      expect(again.error).toBe("invalid_grant");
    }
  });
});

/** A token request of the registered confidential client, or of a public client (`null`: no secret). */
function tokenRequest(base: string, form: Record<string, string>, client: { clientId: string; secret: string | null } | null = rp): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (client !== null) headers.authorization = `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString("base64")}`;
  return fetch(`${base}/oidc/token`, { method: "POST", headers, body: new URLSearchParams(form).toString() });
}
