/**
 * CAS single logout as CAS clients other than mod_auth_cas read it, against the real login server:
 * connect-cas2's own handler (it matches the SessionIndex in the raw body) and phpCAS's reading
 * (the `logoutRequest` form field through a form parser, then its SessionIndex pattern); and how
 * many POSTs a session with many tickets costs.
 */
import { createRequire } from "node:module";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import session from "express-session";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SINGLE_LOGOUT_CONCURRENCY, SINGLE_LOGOUT_MAX_SERVICES } from "../../src/protocols/cas/single-logout.js";
import { fetchPage, makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";

const require = createRequire(import.meta.url);
/** connect-cas2's single-logout handler, as its middleware calls it: it hands back the middleware that answers. */
type Middleware = (req: unknown, res: unknown, next: () => void) => void;
const connectCas2Slo = require("connect-cas2/lib/slo.js") as (req: unknown, callback: (answer: Middleware) => void, options: unknown) => void;
/** Its log lines, kept out of the test output. */
const quietLogger = (): (() => void) => () => {};

const ALICE = { username: "alice", password: "correct horse battery" };

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

let data: TestDataDir;
let server: RunningServer;
const servers: Server[] = [];

beforeAll(async () => {
  data = await makeDataDir({ users: [ALICE] });
  server = await startServer(data);
});

afterAll(async () => {
  await server?.close();
  for (const s of servers) await close(s);
  data?.cleanup();
});

async function register(app: Server): Promise<string> {
  servers.push(app);
  const origin = await listen(app);
  await server.store.addApp({ name: `app-${servers.length}`, origin }, Math.floor(Date.now() / 1000));
  return origin;
}

/** A signed-in browser's ticket for `service`, as /cas/login hands it out. */
async function ticketFor(cookie: string, service: string): Promise<string> {
  const reply = await fetchPage(`${server.url}/cas/login?service=${encodeURIComponent(service)}`, { headers: { cookie: `ssoctl=${cookie}` } });
  expect(reply.status).toBe(303);
  return new URL(reply.headers.location as string).searchParams.get("ticket")!;
}

async function signedIn(): Promise<string> {
  const { cookie } = await signIn(server, ALICE);
  return cookie!;
}

describe("CAS single logout, as other CAS clients read it", () => {
  it("ends the app session of a connect-cas2 app (raw body) and of a phpCAS-style app (form field)", async () => {
    // connect-cas2: after validating a ticket it keeps ticket → session id in the session store.
    const casStore = new session.MemoryStore();
    const cas2 = express();
    cas2.use(session({ store: casStore, secret: "test", resave: false, saveUninitialized: false }));
    cas2.post("/cas2/", (req, res, next) => connectCas2Slo(req, (answer) => answer(req, res, next), { logger: quietLogger }));
    cas2.use((_req, res) => res.status(404).end());
    const cas2Origin = await register(createServer(cas2));

    // phpCAS: `$_POST['logoutRequest']`, then preg_match('|<samlp:SessionIndex>(.*)</samlp:SessionIndex>|').
    const phpStyleTickets: string[] = [];
    const php = express();
    php.use(express.urlencoded({ extended: true }));
    php.post("/php/", (req, res) => {
      const field = (req.body as Record<string, unknown> | undefined)?.logoutRequest;
      const match = typeof field === "string" ? /<samlp:SessionIndex>(.*)<\/samlp:SessionIndex>/.exec(field) : null;
      if (match !== null) phpStyleTickets.push(match[1]!);
      res.status(200).end();
    });
    const phpOrigin = await register(createServer(php));

    const cookie = await signedIn();
    const cas2Ticket = await ticketFor(cookie, `${cas2Origin}/cas2/`);
    const phpTicket = await ticketFor(cookie, `${phpOrigin}/php/`);
    const put = (sid: string, value: object): Promise<void> => new Promise((resolve, reject) => casStore.set(sid, value as session.SessionData, (e) => (e ? reject(e) : resolve())));
    const get = (sid: string): Promise<unknown> => new Promise((resolve, reject) => casStore.get(sid, (e, v) => (e ? reject(e) : resolve(v ?? null))));
    const cookieData = { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000), httpOnly: true, path: "/" };
    await put("app-session-1", { cookie: cookieData, cas: { user: "alice" } } as object);
    await put(cas2Ticket, { cookie: cookieData, sid: "app-session-1" } as object);

    await fetchPage(`${server.url}/logout`, { headers: { cookie: `ssoctl=${cookie}` } });
    await expect.poll(() => get("app-session-1"), { timeout: 5000 }).toBeNull();
    expect(await get(cas2Ticket)).toBeNull();
    await expect.poll(() => phpStyleTickets, { timeout: 5000 }).toEqual([phpTicket]);
  });
});

describe("CAS single logout of a session with many tickets", () => {
  it(`posts once per distinct service URL, to at most ${SINGLE_LOGOUT_MAX_SERVICES} services, ${SINGLE_LOGOUT_CONCURRENCY} at a time`, async () => {
    let received = 0;
    let answered = 0;
    let mostAtOnce = 0;
    const paths: string[] = [];
    const held: ServerResponse[] = [];
    const app = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on("end", () => {
        if (req.method !== "POST") return res.end();
        received += 1;
        paths.push(req.url ?? "");
        mostAtOnce = Math.max(mostAtOnce, received - answered);
        held.push(res);
      });
    });
    const origin = await register(app);
    const cookie = await signedIn();
    // The same URL five times, and more distinct URLs than the cap.
    for (let i = 0; i < 5; i++) await ticketFor(cookie, `${origin}/same`);
    for (let i = 0; i < SINGLE_LOGOUT_MAX_SERVICES + 10; i++) await ticketFor(cookie, `${origin}/page/${i}`);

    const logout = await fetchPage(`${server.url}/logout`, { headers: { cookie: `ssoctl=${cookie}` } });
    expect(logout.status).toBeLessThan(400);
    // Answer the POSTs one by one as they come: more than the limit would show while they are held.
    let done = 0;
    while (done < SINGLE_LOGOUT_MAX_SERVICES) {
      await expect.poll(() => held.length, { timeout: 5000 }).toBeGreaterThan(0);
      answered += 1;
      held.shift()!.end();
      done += 1;
    }
    await server.login.casSingleLogout.idle();
    expect(received).toBe(SINGLE_LOGOUT_MAX_SERVICES);
    expect(mostAtOnce).toBeLessThanOrEqual(SINGLE_LOGOUT_CONCURRENCY);
    expect(new Set(paths).size).toBe(paths.length);
    await expect.poll(() => server.auditLines.some((l) => l.includes('"cas.single_logout"') && l.includes('"not_sent"') && l.includes('"tickets":15')), { timeout: 5000 }).toBe(true);
  });
});
