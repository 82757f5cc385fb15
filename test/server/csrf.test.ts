/** CSRF on POST /login: every forged or cross-site post is refused with 403 and creates no session. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, makeDataDir, openLoginForm, postForm, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "correct horse battery" };

describe("CSRF protection of the sign-in form", () => {
  let data: TestDataDir;
  let server: RunningServer;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    server = await startServer(data);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  async function sessionCount(): Promise<number> {
    return (await server.store.listSessions({}, Math.floor(Date.now() / 1000))).length;
  }

  function expectRefused(response: Reply): void {
    expect(response.status).toBe(403);
    expect(response.headers.location).toBeUndefined();
    expect(String(response.headers["set-cookie"] ?? "")).not.toMatch(/(^|,\s*)ssoctl=/);
    expect(response.body).toContain("Request refused");
  }

  const cases: Array<[string, (form: { csrf: string; cookies: Record<string, string> }, other: { csrf: string; cookies: Record<string, string> }) => Promise<Reply>]> = [
    ["a post without a token", (f) => postForm(server, "/login", { rd: `${APP}/`, ...ALICE }, { cookie: cookieHeader(f.cookies) })],
    ["a post with a made-up token", (f) => postForm(server, "/login", { rd: `${APP}/`, csrf: "A".repeat(43), ...ALICE }, { cookie: cookieHeader(f.cookies) })],
    ["a post whose token belongs to another browser's cookie", (f, o) => postForm(server, "/login", { rd: `${APP}/`, csrf: o.csrf, ...ALICE }, { cookie: cookieHeader(f.cookies) })],
    ["a post without the CSRF cookie", (f) => postForm(server, "/login", { rd: `${APP}/`, csrf: f.csrf, ...ALICE })],
    ["a post with an empty token", (f) => postForm(server, "/login", { rd: `${APP}/`, csrf: "", ...ALICE }, { cookie: cookieHeader(f.cookies) })],
    [
      "a post marked Sec-Fetch-Site: cross-site, even with a valid token",
      (f) => postForm(server, "/login", { rd: `${APP}/`, csrf: f.csrf, ...ALICE }, { cookie: cookieHeader(f.cookies), headers: { "sec-fetch-site": "cross-site" } }),
    ],
    [
      "a post from another site's Origin, even with a valid token",
      (f) => postForm(server, "/login", { rd: `${APP}/`, csrf: f.csrf, ...ALICE }, { cookie: cookieHeader(f.cookies), origin: "https://evil.example" }),
    ],
    [
      "a post from a registered app's Origin (apps do not post the login form)",
      (f) => postForm(server, "/login", { rd: `${APP}/`, csrf: f.csrf, ...ALICE }, { cookie: cookieHeader(f.cookies), origin: APP }),
    ],
    [
      // Browsers send `Origin: null` from sandboxed frames and data: pages; the login page's
      // Referrer-Policy is same-origin (not no-referrer) so Chromium never sends null for our own form.
      "a post with Origin: null",
      (f) => postForm(server, "/login", { rd: `${APP}/`, csrf: f.csrf, ...ALICE }, { cookie: cookieHeader(f.cookies), origin: "null" }),
    ],
  ];

  it.each(cases)("refuses %s with 403 and creates no session", async (_label, send) => {
    const form = await openLoginForm(server, { rd: `${APP}/` });
    const other = await openLoginForm(server, { rd: `${APP}/` });
    expect(form.csrf).not.toBe(other.csrf);
    const before = await sessionCount();
    expectRefused(await send(form, other));
    expect(await sessionCount()).toBe(before);
  });

  it("serves the login page with Referrer-Policy: same-origin, so Chromium sends the real Origin on the post", async () => {
    const { page } = await openLoginForm(server, { rd: `${APP}/` });
    expect(page.headers["referrer-policy"]).toBe("same-origin");
  });

  it("accepts a same-origin post with a valid token (the control case)", async () => {
    const form = await openLoginForm(server, { rd: `${APP}/` });
    const before = await sessionCount();
    const response = await postForm(
      server,
      "/login",
      { rd: `${APP}/`, csrf: form.csrf, ...ALICE },
      { cookie: cookieHeader(form.cookies), headers: { "sec-fetch-site": "same-origin" } },
    );
    expect(response.status).toBe(303);
    expect(await sessionCount()).toBe(before + 1);
  });

  it("accepts a post without Origin or Sec-Fetch-Site from an older browser when the token is valid", async () => {
    const form = await openLoginForm(server, { rd: `${APP}/` });
    const response = await postForm(server, "/login", { rd: `${APP}/`, csrf: form.csrf, ...ALICE }, { cookie: cookieHeader(form.cookies), origin: null });
    expect(response.status).toBe(303);
  });
});
