/** The CAS endpoints over HTTP, against the real login server and a real SQLite file. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookiesOf, fetchPage, makeDataDir, postForm, startServer, type Reply, type RunningServer, type TestDataDir } from "../support/server.js";

const ALICE = { username: "alice", password: "correct horse battery", name: "Alice <&> \"Q\"", email: "alice@example.com", groups: ["staff", "r&d"] };
const BOB = { username: "bob", password: "correct horse battery" };

/** A CAS client app: records every single-logout POST it gets; holds them unanswered while `hold` is set. */
interface ServiceApp {
  origin: string;
  logoutRequests: string[];
  hold: boolean;
  held: ServerResponse[];
  server: Server;
}

async function startServiceApp(): Promise<ServiceApp> {
  const app: ServiceApp = { origin: "", logoutRequests: [], hold: false, held: [], server: createServer() };
  app.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      if (req.method === "POST") app.logoutRequests.push(new URLSearchParams(body).get("logoutRequest") ?? "");
      if (app.hold) {
        app.held.push(res);
        return;
      }
      res.writeHead(302, { Location: "/elsewhere" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => app.server.listen(0, "127.0.0.1", resolve));
  app.origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return app;
}

describe("CAS", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let service: ServiceApp;
  let now = Math.floor(Date.now() / 1000);
  let SERVICE: string;

  beforeAll(async () => {
    service = await startServiceApp();
    SERVICE = `${service.origin}/secure/env.sh?a=1&b=2`;
    data = await makeDataDir({ users: [ALICE, BOB], apps: [service.origin] });
    server = await startServer(data, {}, () => now);
  });
  afterAll(async () => {
    await server?.close();
    for (const res of service.held) res.end();
    service.server.closeAllConnections();
    await new Promise((resolve) => service.server.close(resolve));
    data?.cleanup();
  });

  function get(pathAndQuery: string, cookie?: string): Promise<Reply> {
    return fetchPage(`${server.url}${pathAndQuery}`, { headers: cookie === undefined ? {} : { cookie: `ssoctl=${cookie}` } });
  }

  function loginUrl(params: Record<string, string>): string {
    return `/cas/login?${new URLSearchParams(params).toString()}`;
  }

  /** The browser's way through the form: /cas/login shows it, the post signs in, /cas/login issues the ticket. */
  async function signInThroughCas(user: { username: string; password: string }, params: Record<string, string>, cookie?: string): Promise<{ cookie: string; location: string }> {
    const page = await get(loginUrl(params), cookie);
    expect(page.status).toBe(200);
    const hidden = /name="rd" value="([^"]+)"/.exec(page.body)![1]!.replace(/&amp;/g, "&");
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const csrfCookie = Object.entries(cookiesOf(page.headers)).map(([k, v]) => `${k}=${v}`).join("; ");
    const posted = await postForm(server, "/login", { rd: hidden, csrf, username: user.username, password: user.password }, { cookie: csrfCookie });
    expect(posted.status).toBe(303);
    const session = cookiesOf(posted.headers).ssoctl!;
    expect(posted.headers.location).toBe(hidden);
    const back = await fetchPage(hidden, { headers: { cookie: `ssoctl=${session}` } });
    expect(back.status).toBe(303);
    return { cookie: session, location: back.headers.location as string };
  }

  function ticketOf(location: string): string {
    return new URL(location).searchParams.get("ticket")!;
  }

  function validate(pathname: string, params: Record<string, string>): Promise<Reply> {
    return get(`${pathname}?${new URLSearchParams(params).toString()}`);
  }

  function failureCode(reply: Reply): string | null {
    return /<cas:authenticationFailure code="([A-Z_]+)">/.exec(reply.body)?.[1] ?? null;
  }

  it("shows the sign-in form, then sends the browser back with a ticket that validates once, with the attributes escaped", async () => {
    const { location } = await signInThroughCas(ALICE, { service: SERVICE });
    expect(location).toMatch(new RegExp(`^${SERVICE.replace(/[?.]/g, "\\$&")}&ticket=ST-[0-9a-f]{40}$`));
    const ticket = ticketOf(location);
    const reply = await validate("/cas/p3/serviceValidate", { service: SERVICE, ticket });
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/xml; charset=utf-8");
    expect(reply.body).toContain("<cas:user>alice</cas:user>");
    expect(reply.body).toContain("<cas:displayName>Alice &lt;&amp;&gt; &quot;Q&quot;</cas:displayName>");
    expect(reply.body).toContain("<cas:mail>alice@example.com</cas:mail>");
    expect(reply.body).toContain("<cas:memberOf>staff</cas:memberOf>\n      <cas:memberOf>r&amp;d</cas:memberOf>");
    expect(failureCode(await validate("/cas/p3/serviceValidate", { service: SERVICE, ticket }))).toBe("INVALID_TICKET");
  });

  it("names the app being signed in to on the sign-in page, also after a wrong password", async () => {
    const page = await get(loginUrl({ service: SERVICE }));
    const named = `Sign in to continue to <strong>${new URL(service.origin).host}</strong>`;
    expect(page.body).toContain(named);
    const rd = /name="rd" value="([^"]+)"/.exec(page.body)![1]!.replace(/&amp;/g, "&");
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const csrfCookie = Object.entries(cookiesOf(page.headers)).map(([k, v]) => `${k}=${v}`).join("; ");
    const wrong = await postForm(server, "/login", { rd, csrf, username: "alice", password: "wrong password" }, { cookie: csrfCookie });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain(named);
  });

  it("issues a ticket at once to a signed-in browser (no prompt), also answered by CAS 2 and CAS 1", async () => {
    const { cookie } = await signInThroughCas(ALICE, { service: SERVICE });
    const again = await get(loginUrl({ service: SERVICE }), cookie);
    expect(again.status).toBe(303);
    expect((await validate("/cas/serviceValidate", { service: SERVICE, ticket: ticketOf(again.headers.location as string) })).body).toContain("<cas:user>alice</cas:user>");
    const third = await get(loginUrl({ service: SERVICE }), cookie);
    const cas1 = await validate("/cas/validate", { service: SERVICE, ticket: ticketOf(third.headers.location as string) });
    expect(cas1.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(cas1.body).toBe("yes\nalice\n");
    expect((await validate("/cas/validate", { service: SERVICE, ticket: ticketOf(third.headers.location as string) })).body).toBe("no\n\n");
  });

  it("consumes a ticket presented with the wrong service: the right service afterwards fails too", async () => {
    const { location } = await signInThroughCas(ALICE, { service: SERVICE });
    const ticket = ticketOf(location);
    expect(failureCode(await validate("/cas/p3/serviceValidate", { service: `${service.origin}/other`, ticket }))).toBe("INVALID_SERVICE");
    expect(failureCode(await validate("/cas/p3/serviceValidate", { service: SERVICE, ticket }))).toBe("INVALID_TICKET");
  });

  it("refuses a ticket after its 60 seconds", async () => {
    const { location } = await signInThroughCas(ALICE, { service: SERVICE });
    now += 60;
    try {
      expect(failureCode(await validate("/cas/p3/serviceValidate", { service: SERVICE, ticket: ticketOf(location) }))).toBe("INVALID_TICKET");
    } finally {
      now -= 60;
    }
  });

  it("refuses a ticket whose sign-in ended before it was validated", async () => {
    const { cookie, location } = await signInThroughCas(ALICE, { service: SERVICE });
    await get("/logout", cookie);
    expect(failureCode(await validate("/cas/p3/serviceValidate", { service: SERVICE, ticket: ticketOf(location) }))).toBe("INVALID_TICKET");
  });

  it("with renew, asks for the password even when signed in, and only that sign-in's ticket passes renew validation", async () => {
    const { cookie } = await signInThroughCas(ALICE, { service: SERVICE });
    const fromSso = await get(loginUrl({ service: SERVICE }), cookie);
    expect(failureCode(await validate("/cas/p3/serviceValidate", { service: SERVICE, ticket: ticketOf(fromSso.headers.location as string), renew: "true" }))).toBe("INVALID_TICKET");
    const renewed = await signInThroughCas(ALICE, { service: SERVICE, renew: "true" }, cookie);
    const reply = await validate("/cas/p3/serviceValidate", { service: SERVICE, ticket: ticketOf(renewed.location), renew: "true" });
    expect(reply.body).toContain("<cas:user>alice</cas:user>");
  });

  it("issues tickets only to users the app's access rules admit: anyone else gets the 403 page", async () => {
    const bob = await signInThroughCas(BOB, { service: SERVICE });
    const alice = await signInThroughCas(ALICE, { service: SERVICE });
    await server.store.updateApp(service.origin, { allowGroups: ["staff"] });
    try {
      const refused = await get(loginUrl({ service: SERVICE }), bob.cookie);
      expect(refused.status).toBe(403);
      expect(refused.headers.location).toBeUndefined();
      expect(refused.body).not.toContain("ST-");
      expect(refused.body).toContain("bob");
      const admitted = await get(loginUrl({ service: SERVICE }), alice.cookie);
      expect(admitted.status).toBe(303);
      expect(ticketOf(admitted.headers.location as string)).toMatch(/^ST-[0-9a-f]{40}$/);
    } finally {
      await server.store.updateApp(service.origin, { allowGroups: [] });
    }
  });

  it("answers an app with policy deny with a 403 page, signed in or not", async () => {
    const bob = await signInThroughCas(BOB, { service: SERVICE });
    await server.store.updateApp(service.origin, { policy: "deny" });
    try {
      for (const cookie of [bob.cookie, undefined]) {
        const reply = await get(loginUrl({ service: SERVICE, gateway: "true" }), cookie);
        expect(reply.status).toBe(403);
        expect(reply.headers.location).toBeUndefined();
      }
    } finally {
      await server.store.updateApp(service.origin, { policy: "one_factor" });
    }
  });

  it("with gateway and no session, sends the browser back without a ticket", async () => {
    const reply = await get(loginUrl({ service: SERVICE, gateway: "true" }));
    expect(reply.status).toBe(303);
    expect(reply.headers.location).toBe(SERVICE);
  });

  it.each([
    ["an unregistered service", { service: "http://127.0.0.1:1/secure/" }],
    ["the login server itself", { service: "SELF/login" }],
    ["an unregistered service with gateway", { service: "http://127.0.0.1:1/", gateway: "true" }],
    ["a service with a fragment", { service: "APP/secure/#x" }],
    ["a service with userinfo", { service: "http://user@APPHOST/secure/" }],
    ["a relative service", { service: "/secure/" }],
    ["a javascript: service", { service: "javascript:alert(1)" }],
    ["a huge service", { service: `APP/${"x".repeat(5000)}` }],
    ["a repeated service", "REPEATED"],
  ])("answers %s with a 400 page, never a ticket or a redirect", async (_label, params) => {
    const self = server.url;
    const fill = (text: string): string => text.replace("SELF", self).replace("APPHOST", new URL(service.origin).host).replace("APP", service.origin);
    const query =
      params === "REPEATED"
        ? `service=${encodeURIComponent(SERVICE)}&service=${encodeURIComponent(SERVICE)}`
        : new URLSearchParams(Object.entries(params).map(([k, v]) => [k, fill(v)])).toString();
    const { cookie } = await signInThroughCas(BOB, { service: SERVICE });
    for (const reply of [await get(`/cas/login?${query}`, cookie), await get(`/cas/login?${query}`)]) {
      expect(reply.status).toBe(400);
      expect(reply.headers.location).toBeUndefined();
      expect(reply.body).not.toContain("ST-");
    }
  });

  it("names the command that registers an unregistered service", async () => {
    const reply = await get(loginUrl({ service: "http://127.0.0.1:1/secure/" }));
    expect(reply.body).toContain("ssoctl app add http://127.0.0.1:1");
  });

  it.each([
    ["no ticket", () => ({ service: SERVICE }), "INVALID_REQUEST"],
    ["no service", () => ({ ticket: "ST-" + "a".repeat(40) }), "INVALID_REQUEST"],
    ["a ticket of the wrong shape", () => ({ service: SERVICE, ticket: "ST-abc_def" }), "INVALID_TICKET_SPEC"],
    ["a proxy ticket", () => ({ service: SERVICE, ticket: "PT-" + "a".repeat(40) }), "INVALID_TICKET_SPEC"],
    ["an unknown ticket", () => ({ service: SERVICE, ticket: "ST-" + "a".repeat(40) }), "INVALID_TICKET"],
    ["a huge service", () => ({ service: SERVICE + "x".repeat(5000), ticket: "ST-" + "a".repeat(40) }), "INVALID_REQUEST"],
  ])("answers validation with %s by %s, status 200", async (_label, params, code) => {
    for (const pathname of ["/cas/serviceValidate", "/cas/p3/serviceValidate"]) {
      const reply = await validate(pathname, params());
      expect(reply.status).toBe(200);
      expect(failureCode(reply)).toBe(code);
    }
    expect((await validate("/cas/validate", params())).body).toBe("no\n\n");
  });

  it("answers repeated validation parameters with INVALID_REQUEST", async () => {
    const ticket = "ST-" + "a".repeat(40);
    const reply = await get(`/cas/p3/serviceValidate?service=${encodeURIComponent(SERVICE)}&ticket=${ticket}&ticket=${ticket}`);
    expect(failureCode(reply)).toBe("INVALID_REQUEST");
  });

  it.each([
    "/cas/login?service=%",
    "/cas/login?service=%00",
    "/cas/login?service=http%3a%2f%2fa%0d%0aSet-Cookie%3a%20x%3d1",
    "/cas/login?service=http://[::1",
    "/cas/login?service=http://%C0%AE.example/",
    `/cas/login?service=http://x.example/${"a".repeat(12_000)}`,
    "/cas/login?service=%FF%FE&renew&gateway",
    "/cas/p3/serviceValidate?service=%FF&ticket=%FF",
    "/cas/serviceValidate?service=http://x.example/&ticket=ST-%00",
    `/cas/validate?service=http://x.example/&ticket=${"ST-".repeat(3000)}`,
    "/cas/logout?service=javascript:alert(1)",
    "/cas/logout?url=//evil.example/",
    "/cas/logout?service=http://evil.example/&service=http://evil.example/",
  ])("answers %s without a 5xx and without a redirect away from the login server", async (pathAndQuery) => {
    const reply = await get(pathAndQuery);
    expect(reply.status).toBeLessThan(500);
    const location = reply.headers.location as string | undefined;
    if (location !== undefined) expect(new URL(location, server.url).origin).toBe(server.url);
  });

  describe("logout", () => {
    it("sends each service that got a ticket a SAML logoutRequest naming its ticket, and audits it", async () => {
      const { cookie, location } = await signInThroughCas(ALICE, { service: SERVICE });
      const second = ticketOf((await get(loginUrl({ service: `${service.origin}/other` }), cookie)).headers.location as string);
      const before = service.logoutRequests.length;
      const reply = await get(`/cas/logout?service=${encodeURIComponent(`${service.origin}/bye`)}`, cookie);
      expect(reply.status).toBe(303);
      expect(reply.headers.location).toBe(`${service.origin}/bye`);
      await expect.poll(() => service.logoutRequests.length - before, { timeout: 5000 }).toBe(2);
      const indexes = service.logoutRequests.slice(before).map((xml) => /<samlp:SessionIndex>(ST-[0-9a-f]{40})<\/samlp:SessionIndex>/.exec(xml)?.[1]);
      expect(indexes.sort()).toEqual([ticketOf(location), second].sort());
      await expect.poll(() => server.auditLines.filter((l) => l.includes('"cas.single_logout"') && l.includes('"sent"')).length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
      // The session is over: the next /cas/login asks again.
      expect((await get(loginUrl({ service: SERVICE }), cookie)).status).toBe(200);
    });

    it("does the same from /logout, and takes url= from CAS 2 clients", async () => {
      const { cookie } = await signInThroughCas(ALICE, { service: SERVICE });
      const before = service.logoutRequests.length;
      await get(`/logout`, cookie);
      await expect.poll(() => service.logoutRequests.length - before, { timeout: 5000 }).toBe(1);
      const other = await signInThroughCas(ALICE, { service: SERVICE });
      const reply = await get(`/cas/logout?url=${encodeURIComponent(`${service.origin}/bye`)}`, other.cookie);
      expect(reply.headers.location).toBe(`${service.origin}/bye`);
    });

    it("answers the user at once while a service is slow to take its logout request", async () => {
      const { cookie } = await signInThroughCas(ALICE, { service: SERVICE });
      const before = service.logoutRequests.length;
      service.hold = true;
      try {
        const reply = await get(`/cas/logout`, cookie);
        expect(reply.status).toBe(200);
        await expect.poll(() => service.logoutRequests.length - before, { timeout: 5000 }).toBe(1);
      } finally {
        service.hold = false;
        for (const res of service.held.splice(0)) res.end();
      }
    });

    it("tells the services of a session revoked from the CLI at the next sweep", async () => {
      const { cookie, location } = await signInThroughCas(BOB, { service: SERVICE });
      const sessionId = JSON.parse(Buffer.from(cookie.split(".")[1]!, "base64url").toString("utf8")).sid as string;
      const before = service.logoutRequests.length;
      await server.store.deleteSession(sessionId);
      await server.login.casSingleLogout.sweep(now);
      await expect.poll(() => service.logoutRequests.length - before, { timeout: 5000 }).toBe(1);
      expect(service.logoutRequests.at(-1)).toContain(`<samlp:SessionIndex>${ticketOf(location)}</samlp:SessionIndex>`);
    });

    it("never posts to a service whose app was removed since its ticket", async () => {
      const extra = await startServiceApp();
      try {
        await server.store.addApp({ name: "extra", origin: extra.origin }, now);
        const { cookie } = await signInThroughCas(BOB, { service: `${extra.origin}/x` });
        await server.store.removeApp(extra.origin);
        await get("/cas/logout", cookie);
        await expect.poll(() => server.auditLines.filter((l) => l.includes('"not_registered"')).length, { timeout: 5000 }).toBe(1);
        expect(extra.logoutRequests).toEqual([]);
      } finally {
        extra.server.closeAllConnections();
        await new Promise((resolve) => extra.server.close(resolve));
      }
    });

    it.each([
      ["an unregistered service", "http://127.0.0.1:1/bye"],
      ["a service with a fragment", "APP/bye#x"],
    ])("with %s, ends the session and shows the signed-out page instead of redirecting", async (_label, target) => {
      const { cookie } = await signInThroughCas(BOB, { service: SERVICE });
      const reply = await get(`/cas/logout?service=${encodeURIComponent(target.replace("APP", service.origin))}`, cookie);
      expect(reply.status).toBe(200);
      expect(reply.headers.location).toBeUndefined();
      expect((await get(loginUrl({ service: SERVICE }), cookie)).status).toBe(200);
    });
  });
});
