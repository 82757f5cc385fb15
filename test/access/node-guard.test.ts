/** The Node guard's own access options (allowGroups, allowUsers, twoFactor), checked from the token. */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loginRedirect } from "../../src/guard/index.js";
import { keyId, signToken, verifyToken } from "../../src/token.js";
import { fetchPage } from "../support/server.js";
import { LOGIN_URL, listen, newKey, type Running } from "../guard/support.js";

const APP = "https://wiki.example.com";
const secret = newKey();
let app: Running;

async function token(username: string, groups: string[], amr: string[] = ["pwd"]): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken({ username, sessionId: "s1", issuedAt: now, expiresAt: now + 600, issuer: "http://127.0.0.1:8081", anonymous: false, groups, amr }, secret);
}

beforeAll(async () => {
  const guard = loginRedirect({ loginUrl: LOGIN_URL, appUrl: APP, secretKey: secret, allowGroups: ["staff"], allowUsers: ["carol"] });
  app = await listen((req, res) => guard(req, res, () => res.end("in")));
});

afterAll(async () => {
  await app?.close();
});

describe("loginRedirect with allowGroups and allowUsers", () => {
  it("lets in a member of an allowed group and an allowed user", async () => {
    expect((await fetchPage(`${app.url}/`, { headers: { cookie: `ssoctl=${await token("alice", ["staff"])}` } })).body).toBe("in");
    expect((await fetchPage(`${app.url}/`, { headers: { cookie: `ssoctl=${await token("Carol", [])}` } })).body).toBe("in");
  });

  it("answers anyone else with a 403 page naming them, with a link to sign in as someone else", async () => {
    const reply = await fetchPage(`${app.url}/page?x=1`, { headers: { cookie: `ssoctl=${await token("bob", ["dev"])}` } });
    expect(reply.status).toBe(403);
    expect(reply.body).toContain("You are signed in as bob, who may not use https://wiki.example.com.");
    const href = /href="([^"]*)"/.exec(reply.body)![1]!.replace(/&amp;/g, "&");
    const again = `${LOGIN_URL}?app=${encodeURIComponent(APP)}&path=${encodeURIComponent("/page")}&qs=${encodeURIComponent("?x=1")}`;
    expect(href).toBe(`http://127.0.0.1:8081/logout?rd=${encodeURIComponent(again)}`);
  });
});

describe("loginRedirect with twoFactor", () => {
  it("sends a password-only login to the login server, lets a second factor through", async () => {
    const guard = loginRedirect({ loginUrl: LOGIN_URL, appUrl: APP, secretKey: secret, twoFactor: true });
    const server = await listen((req, res) => guard(req, res, () => res.end("in")));
    try {
      const once = await fetchPage(`${server.url}/x`, { headers: { cookie: `ssoctl=${await token("alice", [])}` } });
      expect(once.status).toBe(302);
      expect(once.headers.location).toBe(`${LOGIN_URL}?app=${encodeURIComponent(APP)}&path=%2Fx&qs=`);
      expect((await fetchPage(`${server.url}/x`, { headers: { cookie: `ssoctl=${await token("alice", [], ["pwd", "otp"])}` } })).body).toBe("in");
    } finally {
      await server.close();
    }
  });
});

describe("the options are checked at start-up", () => {
  it.each([
    [{ allowGroups: "staff" }, /allowGroups must be an array/],
    [{ allowGroups: [""] }, /allowGroups: "" is not a group name/],
    [{ allowUsers: ["a b"] }, /allowUsers: "a b" is not a username/],
    [{ twoFactor: "yes" }, /twoFactor must be true or false/],
  ])("%j", (extra, message) => {
    expect(() => loginRedirect({ loginUrl: LOGIN_URL, appUrl: APP, secretKey: secret, ...(extra as object) })).toThrow(message);
  });
});

describe("the token's groups and amr", () => {
  it.each([
    ["groups not an array", { groups: "staff" }],
    ["amr holding a number", { amr: [1] }],
  ])("a token with %s is not valid", async (_label, claims) => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sid: "s", ...claims })
      .setProtectedHeader({ alg: "HS256", kid: keyId(secret) })
      .setSubject("alice")
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(secret));
    expect(await verifyToken(forged, { secrets: [secret] })).toBeNull();
  });
});
