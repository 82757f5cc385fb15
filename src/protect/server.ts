/**
 * `ssoctl protect`: a reverse proxy (undici, keep-alive to the upstream) that
 * applies the guard's decision to every request before passing it on.
 * Bodies stream both ways; nothing here buffers a whole request or response.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { Pool } from "undici";
import type { IdentityProfile } from "../identity-headers.js";
import { answerClientError, clientLimitOptions } from "../http-limits.js";
import { httpUrlProblem, resolveGuardConfig, type GuardConfig, type SessionChecker } from "../guard/config.js";
import { decide, originForm } from "../guard/decide.js";
import { BAD_REQUEST, htmlPage, writeGuardResponse, type GuardResponse } from "../guard/response.js";
import { clientResponseHeaders, upstreamRequestHeaders } from "./headers.js";
import { normalizedTarget } from "./path.js";
import type { AccessUser, AppAccess } from "../access/decide.js";
import { proxyUpgrade, writeRawResponse } from "./upgrade.js";

export interface ProtectOptions {
  /** The app to guard, e.g. `"http://127.0.0.1:3000"`; a path is a prefix added to every request. */
  upstream: string;
  /** Default `"127.0.0.1"`. */
  host?: string | undefined;
  /** Default 8080; 0 picks a free port. */
  port?: number | undefined;
  loginUrl: string;
  /** The address browsers use for this proxy. Default `http://HOST:PORT`. */
  appUrl?: string | undefined;
  anonymousParameter?: string | undefined;
  anonymousUsername?: string | undefined;
  logoutParameter?: string | undefined;
  logoutUrl?: string | undefined;
  useLogoutRedirect?: boolean | undefined;
  /** The key(s) as `ssoctl key show` prints them: the first signs, all verify. */
  secretKey: string | readonly string[];
  /** Live keys (a data directory's keyring); when given, read on every request instead of `secretKey`. */
  keys?: (() => readonly string[]) | undefined;
  /** With `keys`: the key that signs anonymous tokens, read when one is made. */
  signingKey?: (() => Promise<string>) | undefined;
  /** With `keys`: looks for a newer key when a token names one not in `keys`. */
  refreshKeys?: (() => Promise<readonly string[]>) | undefined;
  cookieName?: string | undefined;
  cookieDomain?: string | undefined;
  sessionTtlSeconds?: number | undefined;
  /** Checks that a verified sign-in is still a login (see `checkLogin`); anonymous tokens are not checked. */
  checkSession?: SessionChecker | undefined;
  /** Access rules: an app's policy, audience and rules by origin (null: not registered). */
  appAccess?: ((origin: string) => Promise<AppAccess | null>) | undefined;
  /** With `appAccess`: a user's groups as the database has them. */
  accessUser?: ((username: string) => Promise<AccessUser | null>) | undefined;
  /** Looks up a signed-in user's name, email and groups for the identity headers. */
  profile?: ((username: string) => Promise<IdentityProfile | null>) | undefined;
  timeouts?: Partial<ProtectTimeouts> | undefined;
  /** Open client connections at most (WebSockets included); more are closed unanswered. Default 1024. */
  maxConnections?: number | undefined;
  /** One line per problem worth an operator's attention (upstream failures). */
  log?: ((line: string) => void) | undefined;
}

export interface ProtectTimeouts {
  /** Client: time to send the request headers. */
  headersMs: number;
  /** Client: time to send the whole request, body included. */
  requestMs: number;
  /** Client: how long an idle keep-alive connection stays open. */
  keepAliveMs: number;
  /** Upstream: time until its response headers (or its answer to a WebSocket handshake). */
  upstreamHeadersMs: number;
  /** Upstream: longest silence inside its response body. */
  upstreamBodyMs: number;
}

const DEFAULT_TIMEOUTS: ProtectTimeouts = {
  headersMs: 20_000,
  requestMs: 300_000,
  keepAliveMs: 5_000,
  upstreamHeadersMs: 60_000,
  upstreamBodyMs: 300_000,
};

export interface ProtectServer {
  readonly server: Server;
  /** Where the proxy listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs` (default 10 s), then closes the rest. */
  close(options?: { graceMs?: number }): Promise<void>;
}

const DEFAULT_MAX_CONNECTIONS = 1024;

interface Upstream {
  origin: URL;
  pool: Pool;
  /** A path prefix, without its trailing slash ("" for none). */
  prefix: string;
  proto: string;
  appHost: string;
}

/** Checks the options (TypeError on a mistake), listens, and resolves once the proxy accepts connections. */
export async function startProtect(options: ProtectOptions): Promise<ProtectServer> {
  const upstreamIssue = httpUrlProblem(options.upstream);
  if (upstreamIssue !== null) throw new TypeError(`ssoctl protect: upstream ${upstreamIssue} (the app to guard, like http://127.0.0.1:3000)`);
  const upstreamUrl = new URL(options.upstream);
  if (upstreamUrl.search !== "") throw new TypeError("ssoctl protect: upstream must not contain a query");
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`ssoctl protect: port ${port} is not a port number (0-65535)`);
  if (typeof host !== "string" || host === "") throw new TypeError("ssoctl protect: host must not be empty");
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new TypeError(`ssoctl protect: maxConnections ${maxConnections} is not a whole number of at least 1`);
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const log = options.log ?? (() => {});

  // Checked before listening; appUrl's default needs the port, so a placeholder origin stands in when it is 0.
  const configFor = (appUrl: string): GuardConfig =>
    resolveGuardConfig(
      {
        loginUrl: options.loginUrl,
        appUrl,
        secretKey: options.secretKey,
        cookieName: options.cookieName,
        cookieDomain: options.cookieDomain,
        anonymousParameterName: options.anonymousParameter,
        anonymousUsername: options.anonymousUsername,
        logoutParameterName: options.logoutParameter,
        logoutUrl: options.logoutUrl,
        useLogoutRedirect: options.useLogoutRedirect,
        sessionTtlSeconds: options.sessionTtlSeconds,
      },
      {
        keys: options.keys,
        signingKey: options.signingKey,
        refreshKeys: options.refreshKeys,
        checkSession: options.checkSession,
        // Access rules: from the database, for the app at appUrl's origin.
        appAccess: options.appAccess === undefined ? undefined : () => options.appAccess!(new URL(appUrl).origin),
        accessUser: options.accessUser,
      },
    );
  let config = configFor(options.appUrl ?? `http://${hostForUrl(host)}:${port === 0 ? 8080 : port}`);

  const pool = new Pool(upstreamUrl.origin, {
    keepAliveTimeout: 4_000,
    headersTimeout: timeouts.upstreamHeadersMs,
    bodyTimeout: timeouts.upstreamBodyMs,
  });
  const upstream: Upstream = {
    origin: new URL(upstreamUrl.origin),
    pool,
    prefix: upstreamUrl.pathname.replace(/\/+$/, ""),
    proto: "http",
    appHost: "",
  };
  const request: RequestOptions = { log, profile: options.profile, upstreamHeadersMs: timeouts.upstreamHeadersMs };
  const tunnels = new Set<Duplex>();

  const server = createServer(clientLimitOptions({ headersMs: timeouts.headersMs, requestMs: timeouts.requestMs, keepAliveMs: timeouts.keepAliveMs }), (req, res) => {
    handle(config, upstream, req, res, request);
  });
  // `Expect: 100-continue`: the client waits for the guard before it sends the body, so
  // a visitor without a login never uploads it. Node would otherwise say "100 Continue" at once.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    handle(config, upstream, req, res, { ...request, expectsContinue: true });
  });
  server.maxConnections = maxConnections;
  server.on("clientError", answerClientError);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(config, upstream, req, socket, head, { ...request, tunnels });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${hostForUrl(address.address)}:${address.port}`;
  if (options.appUrl === undefined && port === 0) config = configFor(`http://${hostForUrl(host)}:${address.port}`);
  const appUrl = new URL(options.appUrl ?? url);
  upstream.proto = appUrl.protocol.slice(0, -1);
  upstream.appHost = appUrl.host;

  let closing: Promise<void> | undefined;
  return {
    server,
    url,
    close(closeOptions = {}) {
      closing ??= closeServer(server, pool, tunnels, closeOptions.graceMs ?? 10_000);
      return closing;
    },
  };
}

interface RequestOptions {
  log: (line: string) => void;
  profile: ((username: string) => Promise<IdentityProfile | null>) | undefined;
  upstreamHeadersMs: number;
  /** The client sent `Expect: 100-continue` and waits for it before sending the body. */
  expectsContinue?: boolean;
}

/** What the guard makes of a request: an answer, or the upstream request to send. */
type Admission =
  | { action: "respond"; response: GuardResponse }
  | { action: "pass"; path: string; headers: string[]; setCookie: string | undefined };

/**
 * The guard's decision on the normalised path, so the login page's `path=`
 * and the upstream see the same path; identity headers for a pass.
 */
async function admit(config: GuardConfig, upstream: Upstream, req: IncomingMessage, options: RequestOptions): Promise<Admission> {
  const origin = originForm(req.url);
  const target = origin === null ? null : normalizedTarget(origin);
  if (target === null) return { action: "respond", response: BAD_REQUEST };
  const decision = await decide(config, { target, cookieHeader: req.headers.cookie, method: req.method });
  if (decision.action === "respond") return decision;
  const user = decision.user;
  const profile = user === null || user.anonymous || options.profile === undefined ? undefined : (await options.profile(user.name)) ?? undefined;
  return {
    action: "pass",
    path: upstream.prefix + target,
    headers: upstreamRequestHeaders(req.rawHeaders, {
      identity: user === null ? null : { username: user.name, anonymous: user.anonymous, profile },
      forwarded: { clientAddress: req.socket.remoteAddress, proto: upstream.proto, host: upstream.appHost },
      cookieName: config.cookie.name,
    }),
    setCookie: decision.setCookie,
  };
}

function handle(config: GuardConfig, upstream: Upstream, req: IncomingMessage, res: ServerResponse, options: RequestOptions): void {
  const { log } = options;
  admit(config, upstream, req, options)
    .then((admission) => {
      if (admission.action === "respond") {
        answer(req, res, admission.response);
        return;
      }
      if (options.expectsContinue === true) res.writeContinue();
      forward(upstream, req, res, { ...admission, log });
    })
    .catch((error: unknown) => {
      log(`ssoctl protect: guard failed: ${describe(error)}`);
      answer(req, res, BAD_GATEWAY);
    });
}

/**
 * A guard answer. The part of a body not yet received is never read: the
 * connection closes after the answer, so a visitor without a login cannot
 * hold it open with a slow upload.
 */
function answer(req: IncomingMessage, res: ServerResponse, response: GuardResponse): void {
  if (!req.complete && !res.headersSent) res.setHeader("connection", "close");
  writeGuardResponse(res, response);
}

/** A WebSocket handshake: refused like any request without a login, otherwise passed to the upstream. */
function handleUpgrade(
  config: GuardConfig,
  upstream: Upstream,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: RequestOptions & { tunnels: Set<Duplex> },
): void {
  socket.on("error", () => socket.destroy());
  const protocol = req.headers.upgrade ?? "";
  // Only WebSocket: a tunnel for another protocol (h2c) would carry requests the guard never sees.
  if (protocol.trim().toLowerCase() !== "websocket") {
    writeRawResponse(socket, UPGRADE_REFUSED);
    return;
  }
  admit(config, upstream, req, options)
    .then((admission) => {
      if (admission.action === "respond") {
        writeRawResponse(socket, admission.response);
        return;
      }
      proxyUpgrade(
        socket,
        head,
        {
          origin: upstream.origin,
          method: req.method ?? "GET",
          path: admission.path,
          headers: admission.headers,
          protocol,
          setCookie: admission.setCookie,
          timeoutMs: options.upstreamHeadersMs,
        },
        {
          failed(error) {
            options.log(`ssoctl protect: upstream upgrade ${req.method} ${admission.path} failed: ${describe(error)}`);
            return isTimeout(error) ? GATEWAY_TIMEOUT : BAD_GATEWAY;
          },
          opened(client, upstreamSocket) {
            options.tunnels.add(client);
            client.once("close", () => {
              options.tunnels.delete(client);
              upstreamSocket.destroy();
            });
          },
        },
      );
    })
    .catch((error: unknown) => {
      options.log(`ssoctl protect: guard failed: ${describe(error)}`);
      writeRawResponse(socket, BAD_GATEWAY);
    });
}

function forward(
  upstream: Upstream,
  req: IncomingMessage,
  res: ServerResponse,
  request: { path: string; headers: string[]; setCookie: string | undefined; log: (line: string) => void },
): void {
  const controller = new AbortController();
  // A client that goes away takes its upstream request with it.
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  req.once("error", () => controller.abort());
  const hasBody = (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0") || req.headers["transfer-encoding"] !== undefined;

  upstream.pool
    .stream(
      {
        path: request.path,
        method: (req.method ?? "GET") as "GET",
        headers: request.headers,
        body: hasBody ? req : null,
        signal: controller.signal,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, clientResponseHeaders(headers, request.setCookie));
        return res;
      },
    )
    .catch((error: unknown) => {
      if (controller.signal.aborted) return;
      request.log(`ssoctl protect: upstream request ${req.method} ${request.path} failed: ${describe(error)}`);
      if (!res.headersSent) answer(req, res, isTimeout(error) ? GATEWAY_TIMEOUT : BAD_GATEWAY);
      else res.destroy();
    });
}

const BAD_GATEWAY: GuardResponse = htmlPage({
  status: 502,
  title: "Bad gateway",
  text: "The application behind this sign-in proxy is not answering. Try again in a moment; if it persists, tell whoever runs it.",
});

const UPGRADE_REFUSED: GuardResponse = htmlPage({
  status: 400,
  title: "Bad request",
  text: "This sign-in proxy upgrades connections to WebSocket only.",
});

const GATEWAY_TIMEOUT: GuardResponse = htmlPage({
  status: 504,
  title: "Gateway timeout",
  text: "The application behind this sign-in proxy took too long to answer. Try again in a moment.",
});

async function closeServer(server: Server, pool: Pool, tunnels: Set<Duplex>, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A WebSocket has no end in sight: it closes now, and the server's close does not wait for it.
  for (const tunnel of tunnels) tunnel.destroy();
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([closed, graceOver]);
  clearTimeout(timer);
  server.closeAllConnections();
  await closed;
  await pool.destroy().catch(() => {});
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_CONNECT_TIMEOUT";
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message.split("\n")[0] : String(error);
  return code === "" ? message! : `${code} ${message}`;
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
