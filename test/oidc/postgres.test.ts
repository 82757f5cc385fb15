/**
 * The OpenID provider on PostgreSQL, two login servers on one database: the keys are made once
 * (at the first start, as after an upgrade) and shared, and a code one server issued is redeemed
 * at the other, once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as client from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { Browser, registerClient } from "./support.js";

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
});
