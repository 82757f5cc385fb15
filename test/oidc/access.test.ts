/**
 * The client's app rules apply (issue 11's one decision): a user they refuse gets ssoctl's 403 page,
 * which explains and links back to the client with error=access_denied; no code is issued.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as client from "openid-client";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { Browser, registerClient } from "./support.js";

const ALICE = { username: "alice", password: "correct horse battery", groups: ["staff"] };
const BOB = { username: "bob", password: "another good password", groups: [] };
const RP = "http://wiki.example.test";
const CALLBACK = `${RP}/callback`;

let data: TestDataDir;
let server: RunningServer;
let config: client.Configuration;

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE, BOB], apps: [RP] });
  server = await startServer(data);
  // As `ssoctl app set http://wiki.example.test --allow-group staff` does.
  await server.store.updateApp(RP, { allowGroups: ["staff"] });
  const { clientId, secret } = await registerClient(server.store, { name: "wiki", redirectUris: [CALLBACK] });
  config = await client.discovery(new URL(server.url), clientId, secret!, undefined, { execute: [client.allowInsecureRequests] });
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

async function start(browser: Browser, user: { username: string; password: string }): Promise<{ arrivedAt: string | null; final: { status: number; body: string } }> {
  const url = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid", state: "st", code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: "S256" });
  return browser.navigate(url.href, { stopAt: CALLBACK, credentials: user, server: server.url });
}

describe("access rules of the client's app", () => {
  it("a user the rules admit gets a code", async () => {
    const flow = await start(new Browser(), ALICE);
    expect(new URL(flow.arrivedAt!).searchParams.get("code")).toBeTruthy();
  });

  it("a user they refuse gets the 403 page, whose link takes access_denied back to the client", async () => {
    const browser = new Browser();
    const flow = await start(browser, BOB);
    expect(flow.arrivedAt).toBeNull();
    expect(flow.final.status).toBe(403);
    expect(flow.final.body).toContain("You cannot use this application");
    expect(flow.final.body).toMatch(/<strong class="user">bob<\/strong>, who may not use <strong>wiki<\/strong>/);
    expect(flow.final.body).toContain("Sign in as someone else");
    const back = /<a class="button" href="([^"]+)">Back to wiki<\/a>/.exec(flow.final.body)![1]!.replaceAll("&amp;", "&");
    const resumed = await browser.navigate(back, { stopAt: CALLBACK, server: server.url });
    const answer = new URL(resumed.arrivedAt!).searchParams;
    expect(answer.get("error")).toBe("access_denied");
    expect(answer.get("state")).toBe("st");
    expect(answer.get("code")).toBeNull();
    expect((await server.store.listAudit(20)).some((e) => e.event === "access.denied" && e.detail?.client === "wiki" && e.detail?.via === "oidc")).toBe(true);
  });
});
