/**
 * Every way into an OpenID Connect app passes its access rules, asked again each time: an
 * authorization answered from a saved grant (prompt=none too), a refresh grant and a userinfo
 * call. The relying parties are passport-openidconnect and @badgateway/oauth2-client (not the
 * openid-client the other tests use), the changes are made with the real `ssoctl` commands.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { OAuth2HttpError } from "@badgateway/oauth2-client";
import { makeDataDir, runCli, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { Browser, registerClient } from "./support.js";
import { PassportRp, discover, oauth2Client, tokenOf, type Discovery, type StrategyOutcome } from "./independent-clients.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice Liddell", email: "alice@example.com", groups: ["staff"] };
const RP = "http://wiki.example.test";
const CALLBACK = `${RP}/callback`;

let data: TestDataDir;
let server: RunningServer;
let meta: Discovery;
let wiki: { clientId: string; secret: string };

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE], apps: [RP] });
  server = await startServer(data);
  await server.store.updateApp(RP, { allowGroups: ["staff"] });
  const registered = await registerClient(server.store, { name: "wiki", redirectUris: [CALLBACK] });
  wiki = { clientId: registered.clientId, secret: registered.secret! };
  meta = await discover(server.url);
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
});

beforeEach(async () => {
  // Each test starts from alice in staff, the app open to staff, alice enabled.
  await server.store.updateUser("alice", { groups: ["staff"] });
  await server.store.updateApp(RP, { policy: "one_factor" });
  await server.store.setDisabled("alice", false);
});

async function ssoctl(...args: string[]): Promise<string> {
  const result = await runCli([...args, "--data-dir", data.dataDir.dir], { input: `${ALICE.password}\n` });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout;
}

/** One sign-in to the wiki through passport-openidconnect, in `browser` (signing in when asked). */
async function signInToWiki(browser: Browser, rp = new PassportRp(meta, wiki, CALLBACK, { scope: "profile email groups offline_access" }), prompt?: string): Promise<StrategyOutcome & { pages?: number; final?: { status: number; body: string } }> {
  const flow = await browser.navigate(await rp.start(prompt === undefined ? {} : { prompt }), { stopAt: CALLBACK, credentials: ALICE, server: server.url });
  if (flow.arrivedAt === null) return { kind: "fail", message: "no answer at the callback", status: flow.final.status, pages: flow.pages, final: flow.final };
  return { ...(await rp.finish(flow.arrivedAt)), pages: flow.pages };
}

async function refreshError(refreshToken: string): Promise<string | null> {
  try {
    await oauth2Client(meta, wiki).refreshToken(tokenOf(refreshToken));
    return null;
  } catch (error) {
    return (error as OAuth2HttpError).oauth2Code ?? String(error);
  }
}

describe("the client's app rules on every authorization, refresh and userinfo call", () => {
  it("a first sign-in gives a code, the ID token's claims, userinfo, and a refresh token for offline_access without prompt=consent", async () => {
    const outcome = await signInToWiki(new Browser());
    expect(outcome.kind).toBe("success");
    if (outcome.kind !== "success") return;
    expect(outcome.claims).toMatchObject({ name: "Alice Liddell", preferred_username: "alice", email: "alice@example.com", email_verified: true, groups: ["staff"] });
    expect(outcome.userinfo).toMatchObject({ preferred_username: "alice", groups: ["staff"] });
    expect(outcome.refreshToken).toBeTruthy();
    expect(await refreshError(outcome.refreshToken!)).toBeNull();
  });

  it("after `user set alice --groups other`: no code from the saved grant, refresh invalid_grant, userinfo 401", async () => {
    const browser = new Browser();
    const before = await signInToWiki(browser);
    if (before.kind !== "success") throw new Error(JSON.stringify(before));
    // Signed in with a saved grant: the next authorization needs no page at all.
    const silent = await signInToWiki(browser, undefined, "none");
    expect(silent.kind).toBe("success");

    await ssoctl("user", "set", "alice", "--groups", "other");

    const none = await signInToWiki(browser, undefined, "none");
    expect(none).toMatchObject({ kind: "fail" });
    const interactive = await signInToWiki(browser);
    expect(interactive).toMatchObject({ kind: "fail", status: 403 });
    expect(interactive.final?.body).toContain("You cannot use this application");
    expect(await refreshError(before.refreshToken!)).toBe("invalid_grant");
    const info = await new PassportRp(meta, wiki, CALLBACK).userinfo(before.accessToken);
    expect(info.status).toBe(401);
    expect(info.body).toMatchObject({ error: "invalid_token" });

    // The refusal ended the grant: letting alice in again does not revive the old tokens.
    await ssoctl("user", "set", "alice", "--groups", "staff");
    expect(await refreshError(before.refreshToken!)).toBe("invalid_grant");
    expect((await new PassportRp(meta, wiki, CALLBACK).userinfo(before.accessToken)).status).toBe(401);
    // A new authorization makes a new grant, still without a page (first-party: no consent page).
    expect(await signInToWiki(browser)).toMatchObject({ kind: "success", pages: 0 });
  });

  it("prompt=none after the refusal comes back as access_denied at the client", async () => {
    const browser = new Browser();
    const rp = new PassportRp(meta, wiki, CALLBACK);
    expect((await signInToWiki(browser, rp)).kind).toBe("success");
    await ssoctl("app", "set", RP, "--policy", "deny");
    const flow = await browser.navigate(await rp.start({ prompt: "none" }), { stopAt: CALLBACK, server: server.url });
    expect(flow.pages).toBe(0);
    const answer = new URL(flow.arrivedAt!).searchParams;
    expect(answer.get("error")).toBe("access_denied");
    expect(answer.get("code")).toBeNull();
    expect((await server.store.listAudit(20)).some((e) => e.event === "access.denied" && e.detail?.client === "wiki" && e.detail?.via === "oidc")).toBe(true);
  });

  it("after `app set APP --policy deny`: refresh invalid_grant, userinfo 401, and the 403 page with access_denied behind its link", async () => {
    const browser = new Browser();
    const before = await signInToWiki(browser);
    if (before.kind !== "success") throw new Error(JSON.stringify(before));
    await ssoctl("app", "set", RP, "--policy", "deny");
    expect(await refreshError(before.refreshToken!)).toBe("invalid_grant");
    expect((await new PassportRp(meta, wiki, CALLBACK).userinfo(before.accessToken)).status).toBe(401);
    const refused = await signInToWiki(browser);
    expect(refused).toMatchObject({ kind: "fail", status: 403 });
    const back = /<a class="button" href="([^"]+)">Back to wiki<\/a>/.exec(refused.final!.body)![1]!.replaceAll("&amp;", "&");
    const resumed = await browser.navigate(back, { stopAt: CALLBACK, server: server.url });
    expect(new URL(resumed.arrivedAt!).searchParams.get("error")).toBe("access_denied");
  });

  it("a code issued before the change is refused at the token endpoint", async () => {
    const browser = new Browser();
    const rp = new PassportRp(meta, wiki, CALLBACK);
    const flow = await browser.navigate(await rp.start(), { stopAt: CALLBACK, credentials: ALICE, server: server.url });
    await ssoctl("user", "set", "alice", "--groups", "other");
    const outcome = await rp.finish(flow.arrivedAt!);
    expect(outcome).toMatchObject({ kind: "error", error: { code: "invalid_grant" } });
  });
});

describe("commands that end a user's OpenID Connect grants and refresh tokens", () => {
  for (const command of [
    ["user", "passwd", "alice", "--password-stdin"],
    ["user", "disable", "alice"],
    ["session", "revoke", "--user", "alice"],
    ["session", "revoke", "--all"],
  ]) {
    it(`\`ssoctl ${command.join(" ")}\``, async () => {
      const before = await signInToWiki(new Browser());
      if (before.kind !== "success") throw new Error(JSON.stringify(before));
      await ssoctl(...command);
      await ssoctl("user", "enable", "alice");
      expect(await refreshError(before.refreshToken!)).toBe("invalid_grant");
      expect((await new PassportRp(meta, wiki, CALLBACK).userinfo(before.accessToken)).status).toBe(401);
    });
  }

  it("`ssoctl session revoke ID` of one of the user's sessions", async () => {
    const before = await signInToWiki(new Browser());
    if (before.kind !== "success") throw new Error(JSON.stringify(before));
    const [session] = await server.store.listSessions({ username: "alice" }, Math.floor(Date.now() / 1000));
    await ssoctl("session", "revoke", session!.id);
    expect(await refreshError(before.refreshToken!)).toBe("invalid_grant");
  });

  it("`ssoctl user remove`: the records go with the user", async () => {
    const before = await signInToWiki(new Browser());
    if (before.kind !== "success") throw new Error(JSON.stringify(before));
    const sub = String(before.claims.sub);
    await ssoctl("user", "remove", "alice");
    expect(await refreshError(before.refreshToken!)).toBe("invalid_grant");
    // Nothing of the subject is left behind (the grant, its tokens, the provider's session).
    expect(await server.store.deleteOidcAccount(sub)).toBe(0);
  });
});
