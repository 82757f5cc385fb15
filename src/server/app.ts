/** The login server: routing, error pages, limits, timers and graceful shutdown. */
import { createServer, ServerResponse, type IncomingMessage, type Server } from "node:http";
import * as fs from "node:fs";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { AuditLog } from "../audit.js";
import { Keyring } from "../keyring.js";
import { LoginSessions } from "../sessions.js";
import { SignIn } from "../sign-in/index.js";
import { WorkQueue } from "../work-queue.js";
import { ChildProcessHasher, type PasswordHasher } from "../password-hasher.js";
import type { DataDir } from "../data-dir.js";
import type { SigningKeys } from "../signing-keys.js";
import type { Store } from "../store/store.js";
import type { ServerConfig } from "./config.js";
import { ServerContext } from "./context.js";
import { authForward, authRequest } from "./forward-auth.js";
import { HttpError } from "./http-error.js";
import { answerClientError, clientLimitOptions } from "../http-limits.js";
import { getLogin, logout, postLogin } from "./login-routes.js";
import { postLoginCode, postStepUp } from "./factor-routes.js";
import { checkRpId, rpIdOf } from "../factors/passkeys.js";
import { getInvite, postInvite } from "./invite-routes.js";
import { getForgot, postForgot } from "./forgot-routes.js";
import { getAccount, postEndSession, postPassword, postTotpChange, postTotpConfirm, postTotpStart } from "./account-routes.js";
import { Pages, STATIC_DIR } from "./pages.js";
import { TrustedProxies } from "./trusted-proxy.js";
import { ServerMetrics, type ForwardAuthEndpoint } from "../ops/metrics.js";
import { casLogin, casLogout, casServiceValidate, casValidate } from "../protocols/cas/routes.js";
import { SINGLE_LOGOUT_SWEEP_MS, SingleLogout } from "../protocols/cas/single-logout.js";
import { nameSamlTarget, samlContinue, samlKeys, samlMetadata, samlSso, samlStart, idpEntityId } from "../protocols/saml/routes.js";
import { samlSlo } from "../protocols/saml/logout-routes.js";
import { SamlSingleLogout } from "../protocols/saml/single-logout.js";
import { DatabaseOidcKeys, FileOidcKeys, type OidcKeyStorage } from "../protocols/oidc/keys.js";
import type { ClientAccessCheck, OidcEndpoint } from "../protocols/oidc/provider.js";
import type { MailSettings } from "../mail/settings.js";
import type { NotifierOptions } from "../mail/notifier.js";
import type { LdapInterface } from "../protocols/ldap/server.js";

export interface LoginServer {
  server: Server;
  /** The address it listens on, e.g. http://127.0.0.1:8081 */
  url: string;
  context: ServerContext;
  /** CAS single logout: `sweep` tells the services of sessions ended outside this server. */
  casSingleLogout: SingleLogout;
  /** SAML single logout: `sweep` tells the SPs of sessions ended outside this server. */
  samlSingleLogout: SamlSingleLogout;
  /** The OpenID Connect provider (DESIGN §14), loaded at the first request that needs it. */
  oidc: LazyOidc;
  /** Who /metrics answers; replaced in place by a reload. */
  metricsAllow: TrustedProxies;
  /** The LDAP interface for apps, when `ldap` is configured. */
  ldap: LdapInterface | null;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), stops timers. Does not close the store. */
  close(graceMs?: number): Promise<void>;
}

export interface LoginServerDeps {
  store: Store;
  /** The data directory whose `secret.key` signs, unless `keys` says where the key is. */
  dataDir?: DataDir;
  /** Where the signing key lives (the database, with PostgreSQL). */
  keys?: SigningKeys;
  /** Where argon2 runs; default a worker process at the lowest CPU priority, started at the first check, closed with the server. */
  hasher?: PasswordHasher;
  clock?: () => number;
  auditWrite?: (line: string) => void;
  /** Where the OpenID provider's signing keys live; default `oidc-keys.json` in the data directory, or the database. */
  oidcKeys?: OidcKeyStorage;
  /** Whether a user may use an OpenID client (its app's access rules). */
  oidcAccess?: ClientAccessCheck;
  /** Mail settings (the config's `mail` section); none: no mail, and what needs it stays off. */
  mail?: MailSettings | null;
  /** Outbox options for tests (retry delays, the log). */
  mailOutbox?: NotifierOptions["outbox"];
}

type Handler = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse) => Promise<void>;

type Routes = Record<string, Partial<Record<string, Handler>>>;

/** A route of passkey-routes.ts: it (and @simplewebauthn, ~20 MiB) loads when a passkey is first used. */
function passkeyRoute(name: "postPasskeyChange" | "postPasskeyFinish" | "postPasskeyLoginFinish" | "postPasskeyLoginStart" | "postPasskeyStart"): Handler {
  return async (ctx, req, res) => (await import("./passkey-routes.js"))[name](ctx, req, res);
}

function routeTable(css: Buffer): Routes {
  const stylesheet: Handler = async (_ctx, req, res) => sendCss(req, res, css);
  // The scripts of the passkey and recovery-code pages, static files (those pages allow script-src 'self' only).
  const staticScript = (name: string): Handler => {
    const script = fs.readFileSync(path.join(STATIC_DIR, name));
    return async (_ctx, req, res) => {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Content-Length": String(script.length), "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff" });
      res.end(req.method === "HEAD" ? undefined : script);
    };
  };
  const passkeyScript = staticScript("passkey.js");
  const recoveryCodesScript = staticScript("recovery-codes.js");
  const home: Handler = async (ctx, _req, res) => {
    res.writeHead(303, { Location: ctx.url("/login"), "Content-Length": "0" });
    res.end();
  };
  return {
    "/login": { GET: getLogin, HEAD: getLogin, POST: postLogin },
    "/logout": { GET: logout, POST: logout },
    "/healthz": { GET: healthz, HEAD: healthz },
    "/cas/login": { GET: casLogin },
    "/cas/logout": { GET: casLogout },
    "/cas/validate": { GET: casValidate },
    "/cas/serviceValidate": { GET: casServiceValidate },
    "/cas/p3/serviceValidate": { GET: casServiceValidate },
    "/saml/metadata": { GET: samlMetadata, HEAD: samlMetadata },
    "/saml/sso": { GET: samlSso, POST: samlSso },
    "/saml/continue": { GET: samlContinue },
    "/saml/start": { GET: samlStart },
    "/saml/slo": { GET: samlSlo, POST: samlSlo },
    "/static/ssoctl.css": { GET: stylesheet, HEAD: stylesheet },
    "/": { GET: home, HEAD: home },
    "/login/code": { POST: postLoginCode },
    "/login/step-up": { POST: postStepUp },
    "/account": { GET: getAccount, HEAD: getAccount },
    "/account/session": { POST: postEndSession },
    "/account/password": { POST: postPassword },
    "/account/totp/start": { POST: postTotpStart },
    "/account/totp/confirm": { POST: postTotpConfirm },
    "/account/totp/remove": { POST: postTotpChange },
    "/account/recovery-codes": { POST: postTotpChange },
    "/account/passkey": { POST: passkeyRoute("postPasskeyChange") },
    "/account/passkey/start": { POST: passkeyRoute("postPasskeyStart") },
    "/account/passkey/finish": { POST: passkeyRoute("postPasskeyFinish") },
    "/login/passkey/start": { POST: passkeyRoute("postPasskeyLoginStart") },
    "/login/passkey/finish": { POST: passkeyRoute("postPasskeyLoginFinish") },
    "/static/passkey.js": { GET: passkeyScript, HEAD: passkeyScript },
    "/static/recovery-codes.js": { GET: recoveryCodesScript, HEAD: recoveryCodesScript },
    "/invite/*": { GET: getInvite, HEAD: getInvite, POST: postInvite },
    "/login/forgot": { GET: getForgot, HEAD: getForgot, POST: postForgot },
  };
}

/**
 * OpenID Connect (DESIGN §14): discovery, the provider's endpoints under /oidc/, and the interaction
 * route that hands a sign-in to ssoctl's own login. Asked only after forward auth missed.
 */
const OIDC_DISCOVERY = "/.well-known/openid-configuration";
const OIDC_ENDPOINTS = "/oidc/";
const OIDC_INTERACTION = "/login/oidc/";

const FORWARD_AUTH: Partial<Record<string, (ctx: ServerContext, req: IncomingMessage, res: ServerResponse) => void>> = { "/auth/request": authRequest, "/auth/forward": authForward };

/**
 * The OpenID provider, loaded (oidc-provider and its dependencies: ~30 MiB and a few hundred
 * milliseconds) at the first request for it: most servers have no client, and a client added
 * by the CLI while the server runs is served from its first request on.
 */
export interface LazyOidc {
  /** The provider, once something asked for it. */
  readonly loaded: OidcEndpoint | null;
  /** Loads it when it is not yet. */
  endpoint(): Promise<OidcEndpoint>;
  /** Picks up new signing keys (a no-op while the provider is not loaded: it reads them when it loads). */
  refresh(): Promise<void>;
}

function lazyOidc(load: () => Promise<OidcEndpoint>): LazyOidc {
  let loading: Promise<OidcEndpoint> | null = null;
  const lazy = {
    loaded: null as OidcEndpoint | null,
    endpoint(): Promise<OidcEndpoint> {
      loading ??= load().then(
        (endpoint) => (lazy.loaded = endpoint),
        (error: unknown) => {
          loading = null;
          throw error;
        },
      );
      return loading;
    },
    async refresh(): Promise<void> {
      await lazy.loaded?.refresh();
    },
  };
  return lazy;
}

export async function startLoginServer(requested: ServerConfig, deps: LoginServerDeps): Promise<LoginServer> {
  const clock = deps.clock ?? (() => Math.floor(Date.now() / 1000));
  const keys = deps.keys ?? deps.dataDir;
  if (keys === undefined) throw new Error("startLoginServer needs a data directory or signing keys");
  const keyring = await Keyring.load(keys, deps.store, clock());
  const pages = new Pages({ title: requested.title, viewsDir: requested.viewsDir });
  const proxies = new TrustedProxies(requested.trustedProxies);
  const cssDir = requested.viewsDir !== undefined && fs.existsSync(path.join(requested.viewsDir, "ssoctl.css")) ? requested.viewsDir : STATIC_DIR;
  const routes = routeTable(fs.readFileSync(path.join(cssDir, "ssoctl.css")));
  // /metrics, answered only to --metrics-allow.
  const metricsAllow = new TrustedProxies(requested.metricsAllow);
  const metricsRoute = metricsHandler(metricsAllow);
  routes["/metrics"] = { GET: metricsRoute, HEAD: metricsRoute };

  let context: ServerContext | undefined;
  let oidc: LazyOidc | undefined;
  // Requests that arrive before the server is ready wait for it (only possible with port 0 and no
  // public URL, where the port must be known first); otherwise the socket opens when it is ready.
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  // While stopping, answers say `Connection: close`: a keep-alive client would otherwise hold the exit back.
  // The check sits where every answer's head is written (`end()` and `write()` call `writeHead` too),
  // so it covers requests already in flight without tracking each request.
  let closing = false;
  class Response extends ServerResponse<IncomingMessage> {}
  const writeHead = ServerResponse.prototype.writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  Response.prototype.writeHead = function (this: ServerResponse, statusCode: unknown, reason?: unknown, headers?: unknown) {
    if (closing) this.shouldKeepAlive = false;
    return writeHead.call(this, statusCode, reason, headers);
  } as ServerResponse["writeHead"];
  const server = createServer(
    { ...clientLimitOptions({ headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 }, { maxHeaderBytes: 16 * 1024 }), ServerResponse: Response },
    (req, res) => {
      if (context === undefined || oidc === undefined) {
        void ready.then(() => handle(context!, routes, req, res, oidc!));
        return;
      }
      handle(context, routes, req, res, oidc);
    },
  );
  server.on("clientError", answerClientError);
  let url = "";
  const listen = async (): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(requested.port, requested.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    url = `http://${host}:${address.port}`;
  };
  if (requested.publicUrlFromListen) await listen();
  const config: ServerConfig = requested.publicUrlFromListen ? { ...requested, port: Number(new URL(url).port), publicUrl: url, publicOrigin: url } : requested;

  const ownHasher = deps.hasher === undefined ? new ChildProcessHasher() : null;
  const hasher = deps.hasher ?? ownHasher!;
  // Showing the login form starts the worker: it is ready by the time the password comes back.
  if (ownHasher !== null) {
    const showForm = routes["/login"]!.GET!;
    routes["/login"]!.GET = async (ctx, req, res) => {
      ownHasher.start();
      await showForm(ctx, req, res);
    };
  }
  const hashQueue = new WorkQueue({ concurrency: config.hashConcurrency, queueLimit: config.hashQueueLimit });
  context = new ServerContext(
    config,
    deps.store,
    keyring,
    new LoginSessions(deps.store, keyring, { issuer: config.publicUrl, ttlSeconds: config.sessionTtlSeconds }),
    new SignIn(deps.store, config.throttle, hashQueue, hasher),
    pages,
    proxies,
    new AuditLog(deps.store, deps.auditWrite),
    clock,
  );
  if (deps.mail !== undefined && deps.mail !== null) {
    // Loaded only with mail configured: a server without it never loads nodemailer.
    const { Notifier } = await import("../mail/notifier.js");
    const audit = context.audit;
    context.notifier = new Notifier(deps.mail, {
      title: config.title,
      publicUrl: config.publicUrl,
      viewsDir: config.viewsDir,
      outbox: {
        ...deps.mailOutbox,
        onSettled: (mail, outcome) => {
          void audit.record(outcome.result === "sent" ? "mail.sent" : "mail.failed", { username: mail.username ?? undefined, kind: mail.kind, ...(outcome.result === "failed" ? { error: outcome.detail } : {}) }, clock());
        },
      },
    });
  }
  const notifier = context.notifier;
  // Throttling rows live as long as the longest rule needs them: "Forgot your password?" counts by the hour.
  let resetHorizon = 0;
  if (notifier !== null) {
    const { PasswordResets, DEFAULT_RESET_THROTTLE } = await import("../factors/password-reset.js");
    const own = context;
    context.passwordResets = new PasswordResets({ store: deps.store, notifier, audit: context.audit, url: (p) => own.url(p) });
    resetHorizon = Math.max(...Object.values(DEFAULT_RESET_THROTTLE).flatMap((rule) => [rule.windowSeconds, rule.lockSeconds]));
  }
  const resets = context.passwordResets;
  context.metrics = new ServerMetrics({
    store: deps.store,
    hashQueueDepth: () => hashQueue.pending,
    clock,
    mailCounts: notifier === null ? undefined : () => notifier.outbox.counts,
    mailPending: notifier === null ? undefined : () => notifier.outbox.pending,
  });
  const fail = async (error: unknown): Promise<never> => {
    if (server.listening) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await ownHasher?.close();
    throw error;
  };
  try {
    await context.loadApps();
    // Passkeys are bound to the rpID they were registered under.
    await checkRpId(deps.store, rpIdOf(config), { allowChange: config.allowNewPasskeyDomain });
  } catch (error) {
    return fail(error);
  }

  // CAS single logout listens for every ended session.
  const casContext = context;
  const singleLogout = new SingleLogout({
    store: deps.store,
    audit: casContext.audit,
    registeredService: async (service) => {
      const check = await casContext.checkTarget(service);
      return check.ok && casContext.appByOrigin(check.origin) !== null ? check.url : null;
    },
  });
  context.sessions.onSessionEnded((ended, now) => singleLogout.sessionEnded(ended, now));
  // SAML: the same hook tells the SPs that received an assertion in the session. After an upgrade the
  // signing key is made by the first SAML request (metadata or sign-in), not at start: a start stays
  // quick, and works on a database that cannot take the write (read-only).
  const samlLogout = new SamlSingleLogout({ store: deps.store, audit: casContext.audit, idpEntityId: idpEntityId(casContext), keys: () => samlKeys(casContext) });
  context.sessions.onSessionEnded((ended, now) => samlLogout.sessionEnded(ended, now));

  const oidcKeys = deps.oidcKeys ?? (deps.dataDir !== undefined ? new FileOidcKeys(deps.dataDir) : new DatabaseOidcKeys(deps.store as unknown as import("../store/store.js").OidcKeyTable));
  const oidcContext = context;
  const lazy = lazyOidc(async () => {
    const { OidcEndpoint: Endpoint } = await import("../protocols/oidc/provider.js");
    return Endpoint.start(oidcContext, oidcKeys, deps.oidcAccess);
  });
  oidc = lazy;
  // An interaction URL names its client on the login page; one begun at another server loads the provider here.
  const samlContext = context;
  context.nameOwnTarget = async (target) =>
    (await nameSamlTarget(samlContext, target)) ?? (target.startsWith(samlContext.url(OIDC_INTERACTION)) ? (await lazy.endpoint()).nameInteraction(target) : null);

  let ldap: LdapInterface | null = null;
  if (config.ldap !== undefined) {
    const ldapContext = context;
    const { LdapInterface: Interface } = await import("../protocols/ldap/server.js");
    try {
      ldap = await Interface.start(
        {
          store: deps.store,
          signIn: ldapContext.signIn,
          audit: ldapContext.audit,
          decide: (user, amr, origin) => ldapContext.decideForApp(user, amr, origin),
          clock,
          log: (event, detail) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), event, ...detail }) + "\n"),
        },
        config.ldap,
      );
    } catch (error) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ownHasher?.close();
      throw error;
    }
  }
  const ldapInterface = ldap;

  let directory: import("../directory/source.js").DirectorySource | null = null;
  if (config.directory !== undefined) {
    const { DirectorySource } = await import("../directory/source.js");
    directory = new DirectorySource(config.directory.options);
    context.signIn.directory = directory;
  }
  const directorySource = directory;
  const directoryContext = context;

  const timers = [
    setInterval(() => {
      lazy.refresh().catch((error: Error) => logError("OpenID Connect key refresh failed", error));
    }, 1000),
    setInterval(() => {
      keyring.refresh(clock()).catch((error: Error) => logError("key refresh failed", error));
    }, 1000),
    setInterval(() => {
      const horizon = Math.max(config.throttle.user.windowSeconds, config.throttle.addr.windowSeconds, config.throttle.user.lockSeconds, config.throttle.addr.lockSeconds, resetHorizon);
      deps.store.prune(clock(), horizon).catch((error: Error) => logError("pruning failed", error));
      deps.store.factors.pruneFactors(clock()).catch((error: Error) => logError("pruning failed", error));
    }, 10 * 60 * 1000),
    ...(directorySource === null
      ? []
      : [
          setInterval(() => {
            import("../directory/recheck.js")
              .then(({ recheckDirectoryUsers }) => recheckDirectoryUsers(deps.store, directorySource, directoryContext.audit, clock()))
              .catch((error: Error) => logError("directory re-check failed", error));
          }, (config.directory!.recheckSeconds ?? 300) * 1000),
        ]),
    // CAS: sessions ended by the CLI or another server reach their services within this period.
    setInterval(() => {
      singleLogout.sweep(clock()).catch((error: Error) => logError("single logout sweep failed", error));
      samlLogout.sweep(clock()).catch((error: Error) => logError("SAML single logout sweep failed", error));
    }, SINGLE_LOGOUT_SWEEP_MS),
  ];
  for (const timer of timers) timer.unref();

  if (!server.listening) {
    try {
      await listen();
    } catch (error) {
      for (const timer of timers) clearInterval(timer);
      return fail(error);
    }
  }
  markReady();

  return {
    server,
    url,
    context,
    casSingleLogout: singleLogout,
    samlSingleLogout: samlLogout,
    oidc: lazy,
    metricsAllow,
    ldap: ldapInterface,
    close: async (graceMs = 10_000) => {
      for (const timer of timers) clearInterval(timer);
      await ldapInterface?.close();
      await directorySource?.close();
      closing = true;
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      await samlLogout.idle();
      await resets?.idle();
      await notifier?.outbox.close(Math.min(graceMs, 5_000));
      await singleLogout.idle(); // the back-channel logouts started are short (timeout) and still audited
      // Only after the requests in flight: a sign-in still hashing needs the worker.
      await ownHasher?.close();
    },
  };
}

function handle(ctx: ServerContext, routes: Routes, req: IncomingMessage, res: ServerResponse, oidc: LazyOidc): void {
  const url = req.url ?? "";
  const query = url.indexOf("?");
  const pathname = query === -1 ? url : url.slice(0, query);
  const forward = FORWARD_AUTH[pathname];
  if (forward !== undefined) {
    const metrics = ctx.metrics;
    if (metrics !== null && metrics.sampleForwardAuth()) {
      // One request in SAMPLE_EVERY is timed: the clock and a listener cost too much for every one.
      const started = performance.now();
      const endpoint: ForwardAuthEndpoint = pathname === "/auth/request" ? "request" : "forward";
      res.once("finish", () => metrics.observeForwardAuth(endpoint, (performance.now() - started) / 1000));
    }
    // Forward auth answers every outcome itself, and fails closed; no promise on its hot path.
    try {
      forward(ctx, req, res);
    } catch (error) {
      void sendError(ctx, req, res, error, true);
    }
    return;
  }
  if (pathname.startsWith(OIDC_ENDPOINTS) || pathname === OIDC_DISCOVERY) {
    if (oidc.loaded !== null) oidc.loaded.handle(req, res);
    else void firstOidcRequest(ctx, oidc, req, res);
    return;
  }
  if (pathname.startsWith(OIDC_INTERACTION)) {
    void oidcInteraction(ctx, oidc, req, res);
    return;
  }
  void routeRequest(ctx, routes, pathname, req, res);
}

async function firstOidcRequest(ctx: ServerContext, oidc: LazyOidc, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let endpoint: OidcEndpoint;
  try {
    endpoint = await oidc.endpoint();
  } catch (error) {
    await sendError(ctx, req, res, error, false);
    return;
  }
  endpoint.handle(req, res);
}

async function oidcInteraction(ctx: ServerContext, oidc: LazyOidc, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    if (req.method !== "GET" && req.method !== "HEAD") {
      throw new HttpError(405, { heading: "Method not allowed", message: `This address does not accept ${String(req.method).slice(0, 16)} requests.`, headers: { Allow: "GET, HEAD" } });
    }
    await (await oidc.endpoint()).interaction(req, res);
  } catch (error) {
    await sendError(ctx, req, res, error, false);
  }
}

async function routeRequest(ctx: ServerContext, routes: Routes, pathname: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  try {
    // /invite/<token> is the one route with a variable part.
    const route = routes[pathname] ?? (pathname.startsWith("/invite/") ? routes["/invite/*"] : undefined);
    if (route === undefined) throw new HttpError(404, { heading: "Not found", message: "There is no page at this address.", link: { path: "/login", text: "Go to the sign-in page" } });
    const handler = route[req.method ?? ""];
    if (handler === undefined) {
      throw new HttpError(405, {
        heading: "Method not allowed",
        message: `This address does not accept ${String(req.method).slice(0, 16)} requests.`,
        headers: { Allow: Object.keys(route).join(", ") },
      });
    }
    await handler(ctx, req, res);
  } catch (error) {
    await sendError(ctx, req, res, error, false);
  }
  // A route of the table, never the path as sent: labels stay a small fixed set.
  ctx.metrics?.observePage(routes[pathname] === undefined ? "other" : pathname, (performance.now() - started) / 1000);
}

async function sendError(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, error: unknown, forwardAuth: boolean): Promise<void> {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  let httpError: HttpError;
  if (error instanceof HttpError) {
    httpError = error;
  } else {
    logError(`${req.method} ${(req.url ?? "").split("?", 1)[0]} failed`, error as Error);
    // A store that is busy, locked or failing is temporary; a bug is logged and still answered.
    httpError = new HttpError(503, {
      heading: "Temporarily unavailable",
      message: "The login server could not complete the request. Try again in a moment.",
      headers: { "Retry-After": "5" },
    });
  }
  if (forwardAuth) {
    const endpoint = (req.url ?? "").startsWith("/auth/request") ? "request" : "forward";
    ctx.metrics?.forwardAuth(endpoint, "error");
    // nginx turns anything but 2xx/401/403 from an auth subrequest into a 500.
    res.writeHead(401, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" });
    res.end("sign-in required\n");
    return;
  }
  if (httpError.status >= 400 && req.readable && !req.readableEnded) {
    // Do not read the rest of a refused body; close the connection after answering.
    httpError.headers.Connection = "close";
  }
  try {
    await ctx.sendPage(res, httpError.status, "error", httpError.heading, {
      heading: httpError.heading,
      message: httpError.message,
      details: httpError.details,
      status: httpError.status,
      link: httpError.link === null ? null : { href: ctx.url(httpError.link.path), text: httpError.link.text },
    }, httpError.headers, { orLastHeaders: true });
  } catch (renderError) {
    logError("the error page failed to render", renderError as Error);
    if (!res.headersSent) {
      res.writeHead(httpError.status, { "Content-Type": "text/plain; charset=utf-8", ...httpError.headers });
      res.end(`${httpError.heading}: ${httpError.message}\n`);
    }
  }
}

async function healthz(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const ok = await ctx.store.ping();
  // A directory that does not answer stops only its own users: the server itself is up.
  const directory = ctx.signIn.directory;
  const reachable = directory === null ? null : await directory.ping();
  res.writeHead(ok ? 200 : 503, { "Content-Type": "application/json", "Cache-Control": "no-store" });
  res.end(JSON.stringify({ status: ok ? "ok" : "unavailable", ...(directory === null ? {} : { directory: { name: directory.options.name, status: reachable ? "ok" : "unreachable" } }) }));
}

/** Prometheus text to the addresses --metrics-allow names, 403 to others. */
function metricsHandler(allowed: TrustedProxies): Handler {
  return async (ctx, req, res) => {
    // The client as the trusted proxies report it: a proxy on loopback forwarding the world's requests does not make them local.
    if (!allowed.isTrusted(ctx.clientAddress(req))) {
      throw new HttpError(403, { heading: "Forbidden", message: "Metrics are answered only to the addresses --metrics-allow names." });
    }
    let scrape;
    try {
      scrape = await ctx.metrics!.scrape();
    } catch (error) {
      logError("metrics scrape failed", error as Error);
      throw new HttpError(503, { heading: "Temporarily unavailable", message: "The metrics could not be read.", headers: { "Retry-After": "5" } });
    }
    res.writeHead(200, { "Content-Type": scrape.contentType, "Cache-Control": "no-store", "Content-Length": String(Buffer.byteLength(scrape.body)) });
    res.end(req.method === "HEAD" ? undefined : scrape.body);
  };
}

function sendCss(req: IncomingMessage, res: ServerResponse, css: Buffer): void {
  res.writeHead(200, {
    "Content-Type": "text/css; charset=utf-8",
    "Content-Length": String(css.length),
    "Cache-Control": "public, max-age=3600",
    "X-Content-Type-Options": "nosniff",
  });
  res.end(req.method === "HEAD" ? undefined : css);
}

function logError(what: string, error: Error): void {
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), event: "error", what, error: error?.message ?? String(error), stack: process.env.SSOCTL_DEBUG === "1" ? error?.stack : undefined }) + "\n",
  );
}
