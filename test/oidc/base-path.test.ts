/**
 * A login server published under a path (--public-url https://host/sso, behind a proxy that
 * strips /sso): the issuer, discovery and every endpoint and redirect carry the path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as client from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { Browser, registerClient } from "./support.js";

const ALICE = { username: "alice", password: "correct horse battery" };
const CALLBACK = "http://rp.example.test/callback";
const PUBLIC = "http://login.example.test/sso";

let data: TestDataDir;
let server: RunningServer;

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE] });
  server = await startServer(data, { publicUrl: PUBLIC });
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

/** The proxy: PUBLIC/x → the server's /x. */
const viaProxy = (url: string): string => (url.startsWith(`${PUBLIC}/`) ? `${server.url}${url.slice(PUBLIC.length)}` : url);

describe("under a path prefix", () => {
  it("discovery, the sign-in and the tokens all use the public URL with its path", async () => {
    const customFetch: client.CustomFetch = (url, options) => fetch(viaProxy(url), options as RequestInit);
    const { clientId, secret } = await registerClient(server.store, { name: "wiki", redirectUris: [CALLBACK] });
    const config = await client.discovery(new URL(PUBLIC), clientId, secret!, undefined, {
      [client.customFetch]: customFetch,
      execute: [client.allowInsecureRequests, (c) => (c[client.customFetch] = customFetch)],
    });
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(PUBLIC);
    expect(meta.authorization_endpoint).toBe(`${PUBLIC}/oidc/auth`);
    expect(meta.jwks_uri).toBe(`${PUBLIC}/oidc/jwks`);

    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid", code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" });
    const browser = new Browser(viaProxy);
    const flow = await browser.navigate(url.href, { stopAt: CALLBACK, credentials: ALICE, server: PUBLIC });
    expect(flow.arrivedAt).not.toBeNull();
    // Every redirect on the way stayed under the public URL's path.
    for (const step of browser.steps) if (step.location !== undefined && !step.location.startsWith(CALLBACK)) expect(step.location.startsWith(`${PUBLIC}/`)).toBe(true);
    const tokens = await client.authorizationCodeGrant(config, new URL(flow.arrivedAt!), { pkceCodeVerifier: verifier });
    await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${server.url}/oidc/jwks`)), { issuer: PUBLIC, audience: clientId });
  });
});
