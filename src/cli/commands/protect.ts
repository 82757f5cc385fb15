import { Command } from "commander";
import * as fs from "node:fs";
import { describeFsError, readSecret, resolveDataDir } from "../../data-dir.js";
import { SsoctlError, UsageError } from "../../errors.js";
import type { IdentityProfile } from "../../identity-headers.js";
import { appUrlProblem, httpUrlProblem, issuerOf, type SessionChecker } from "../../guard/config.js";
import type { ProtectServer } from "../../protect/index.js";
import type { AccessUser, AppAccess } from "../../access/decide.js";
import type { Store } from "../../store/store.js";
import { databaseOption, dataDirOption, hidePasswordFromPs, nowSeconds, openStore, signingKeysOf, type StoreLocation } from "../context.js";
import { isListenError, listenError } from "../lifecycle.js";

export interface ProtectCliOptions {
  upstream: string;
  loginUrl: string;
  host: string;
  port: string;
  appUrl?: string | undefined;
  anonymousParameter?: string | undefined;
  logoutParameter?: string | undefined;
  logoutUrl: string;
  cookieName: string;
  cookieDomain?: string | undefined;
  keyFile?: string | undefined;
  dataDir?: string | undefined;
  database?: string | undefined;
  /** Default "1024". */
  maxConnections?: string | undefined;
}

export function protectCommand(): Command {
  return new Command("protect")
    .description("run a reverse proxy that lets only signed-in visitors through to an HTTP app")
    .requiredOption("--upstream <url>", "the app to guard, e.g. http://127.0.0.1:3000")
    .requiredOption("--login-url <url>", "the login server's login page, e.g. https://login.example.com/login")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8080")
    .option("--app-url <url>", "the address browsers use for this proxy (default: http://HOST:PORT)")
    .option("--anonymous-parameter <name>", "a query parameter that grants anonymous access")
    .option("--logout-parameter <name>", "a query parameter that logs out")
    .option("--logout-url <url>", "where to land after logging out, relative to the app URL", "/")
    .option("--cookie-name <name>", "the login server's cookie name", "ssoctl")
    .option("--cookie-domain <domain>", "the login server's cookie domain (default: none)")
    .option("--max-connections <n>", "open client connections at most, WebSockets included; more are closed unanswered", "1024")
    .option("--key-file <file>", "read the secret key from FILE (one key a line, the first signs) instead of a data directory")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .addHelpText(
      "after",
      "\nThe key comes from the PostgreSQL database (--database or SSOCTL_DATABASE_URL) or the data directory when\n" +
        "it exists (sessions are then checked, so logout and revocation take effect at once); otherwise from\n" +
        "--key-file or the SSOCTL_SECRET_KEY environment variable.",
    )
    .action(async (options: ProtectCliOptions) => {
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await runProtect(options, { stopSignal: stop.signal });
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
    });
}

interface KeySource {
  keys: () => readonly string[];
  initial: readonly string[];
  signingKey?: (() => Promise<string>) | undefined;
  refreshKeys?: (() => Promise<readonly string[]>) | undefined;
  checkSession: SessionChecker | undefined;
  profile?: ((username: string) => Promise<IdentityProfile | null>) | undefined;
  /** Access rules, from the data directory or database. */
  appAccess?: ((origin: string) => Promise<AppAccess | null>) | undefined;
  accessUser?: ((username: string) => Promise<AccessUser | null>) | undefined;
  /** Where the key came from, for messages. */
  origin: string;
  close(): Promise<void>;
}

/**
 * Runs the proxy until `stopSignal` fires, then finishes in-flight requests
 * (up to 10 s) and resolves. Bad option values are UsageErrors.
 */
export async function runProtect(
  options: ProtectCliOptions,
  context: { stopSignal: AbortSignal; env?: NodeJS.ProcessEnv; stderr?: (line: string) => void; onListening?: (url: string) => void },
): Promise<void> {
  const env = context.env ?? process.env;
  const stderr = context.stderr ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const port = parsePort(options.port);
  const maxConnections = parseMaxConnections(options.maxConnections ?? "1024");
  checkUrls(options);
  const keys = await loadKeys(options, env, stderr);
  let proxy: ProtectServer;
  // The proxy (and undici) loads only for `protect`: every other command, `serve` among them, builds this command too.
  const { startProtect } = await import("../../protect/index.js");
  try {
    proxy = await startProtect({
      upstream: options.upstream,
      loginUrl: options.loginUrl,
      host: options.host,
      port,
      appUrl: options.appUrl,
      anonymousParameter: options.anonymousParameter,
      logoutParameter: options.logoutParameter,
      logoutUrl: options.logoutUrl,
      cookieName: options.cookieName,
      cookieDomain: options.cookieDomain,
      maxConnections,
      secretKey: keys.initial,
      keys: keys.keys,
      signingKey: keys.signingKey,
      refreshKeys: keys.refreshKeys,
      checkSession: keys.checkSession,
      profile: keys.profile,
      appAccess: keys.appAccess,
      accessUser: keys.accessUser,
      log: stderr,
    });
  } catch (error) {
    await keys.close();
    if (error instanceof TypeError) throw new UsageError(asFlagMessage(error.message, keys.origin));
    if (isListenError(error)) throw listenError(error, options.host, port);
    throw error;
  }
  const sessions = keys.checkSession === undefined ? "no data directory: sessions are not checked" : "checking sessions";
  stderr(`ssoctl protect: listening on ${proxy.url}, guarding ${options.upstream} (${sessions})`);
  context.onListening?.(proxy.url);

  if (!context.stopSignal.aborted) {
    await new Promise<void>((resolve) => context.stopSignal.addEventListener("abort", () => resolve(), { once: true }));
  }
  await proxy.close({ graceMs: 10_000 });
  await keys.close();
}

/** The URL flags first, so a typo is reported before any question about the key. */
function checkUrls(options: ProtectCliOptions): void {
  const checks: [string, string | null][] = [
    ["--upstream", httpUrlProblem(options.upstream)],
    ["--login-url", httpUrlProblem(options.loginUrl)],
    ["--app-url", options.appUrl === undefined ? null : appUrlProblem(options.appUrl)],
  ];
  for (const [flag, issue] of checks) if (issue !== null) throw new UsageError(`${flag} ${issue}`);
}

function parsePort(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) throw new UsageError(`--port "${text}" is not a port number (0-65535)`);
  return Number(text);
}

function parseMaxConnections(text: string): number {
  if (!/^[0-9]{1,7}$/.test(text) || Number(text) < 1) throw new UsageError(`--max-connections "${text}" is not a whole number of at least 1`);
  return Number(text);
}

async function loadKeys(options: ProtectCliOptions, env: NodeJS.ProcessEnv, stderr: (line: string) => void): Promise<KeySource> {
  const explicitDir = options.dataDir !== undefined;
  if (explicitDir && options.keyFile !== undefined) {
    throw new UsageError("--key-file and --data-dir both name a key; give one of them");
  }
  if (options.database !== undefined && (explicitDir || options.keyFile !== undefined)) {
    throw new UsageError("--database and --data-dir / --key-file all name a key; give one of them");
  }
  const fromEnvUrl = env.SSOCTL_DATABASE_URL?.trim();
  if (options.database !== undefined) {
    hidePasswordFromPs(options.database);
    return storeKeys({ engine: "postgres", url: options.database, source: "--database" }, issuerOf(new URL(options.loginUrl)), stderr);
  }
  if (!explicitDir && options.keyFile === undefined && fromEnvUrl !== undefined && fromEnvUrl !== "") {
    return storeKeys({ engine: "postgres", url: fromEnvUrl, source: "SSOCTL_DATABASE_URL" }, issuerOf(new URL(options.loginUrl)), stderr);
  }
  const dataDir = resolveDataDir(options.dataDir, env);
  if (explicitDir || (options.keyFile === undefined && fs.existsSync(dataDir.keyPath))) {
    return storeKeys({ engine: "sqlite", dataDir }, issuerOf(new URL(options.loginUrl)), stderr);
  }
  if (options.keyFile !== undefined) return fixedKeys(readKeyFile(options.keyFile), "--key-file");
  const fromEnv = env.SSOCTL_SECRET_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return fixedKeys(splitKeys(fromEnv), "SSOCTL_SECRET_KEY");
  throw new UsageError(
    `no secret key: ${dataDir.dir} has none; pass --data-dir DIR (made by \`ssoctl init\`), --key-file FILE, or set SSOCTL_SECRET_KEY`,
  );
}

/**
 * The data directory's or database's keyring (picking up `key rotate`) and its sessions (picking up
 * logout and revocation), checked exactly as the login server and forward auth check them. `issuer`:
 * the login server's public URL, from --login-url.
 */
async function storeKeys(location: StoreLocation, issuer: string, stderr: (line: string) => void): Promise<KeySource> {
  if (location.engine === "sqlite") readSecret(location.dataDir);
  const { Keyring } = await import("../../keyring.js");
  const { checkLogin } = await import("../../sessions.js");
  const store: Store = await openStore(location, { listen: true });
  let keyring;
  let signingKeys;
  try {
    signingKeys = await signingKeysOf(location, store);
    keyring = await Keyring.load(signingKeys, store, nowSeconds());
  } catch (error) {
    await store.close();
    throw error;
  }
  let refreshFailed = false;
  const timer = setInterval(() => {
    keyring.refresh(nowSeconds()).then(
      () => (refreshFailed = false),
      (error: unknown) => {
        if (!refreshFailed) process.stderr.write(`ssoctl protect: cannot reread the keys: ${(error as Error)?.message ?? String(error)}\n`);
        refreshFailed = true;
      },
    );
  }, 5_000);
  timer.unref();
  const issuersSeen = new Set<string>();
  return {
    keys: () => keyring.secrets,
    initial: keyring.secrets,
    signingKey: () => keyring.signingKey(nowSeconds()),
    refreshKeys: () => keyring.latest(nowSeconds()),
    checkSession: async (claims) => {
      const check = await checkLogin(store, claims, { issuer, now: nowSeconds() });
      // A login server whose --public-url is not what --login-url implies sends every browser
      // round in circles; say so once per issuer rather than leave the loop unexplained.
      if (!check.ok && check.reason === "wrong_issuer" && !issuersSeen.has(claims.issuer) && issuersSeen.size < 10) {
        issuersSeen.add(claims.issuer);
        stderr(`ssoctl protect: refused a token issued by ${JSON.stringify(claims.issuer)}; expected ${JSON.stringify(issuer)} (the --public-url implied by --login-url)`);
      }
      return check.ok;
    },
    profile: (username) => store.getUser(username),
    ...(await accessFromStore(store)),
    origin: signingKeys.origin,
    async close() {
      clearInterval(timer);
      await store.close();
    },
  };
}

/**
 * Access rules as the login server applies them: every app's policy and rules, reread
 * whenever the store's change counter moves (a `rule add` applies from the next request on).
 */
async function accessFromStore(store: Store): Promise<Pick<KeySource, "appAccess" | "accessUser">> {
  const { AccessTable, OPEN_APP } = await import("../../access/table.js");
  let stamp: number | null = null;
  let table = new AccessTable([], []);
  return {
    appAccess: async (origin) => {
      const now = store.changeCounter();
      if (now !== stamp) {
        const [apps, rules] = await Promise.all([store.listApps(), store.listRules()]);
        table = new AccessTable(apps, rules);
        stamp = now;
      }
      // An app-url nobody registered keeps what protect did before access rules: anyone signed in.
      return table.appFor(origin)?.access ?? OPEN_APP;
    },
    accessUser: async (username) => {
      const user = await store.getUser(username);
      return user === null ? null : { username: user.username, groups: user.groups };
    },
  };
}

function fixedKeys(keys: string[], origin: string): KeySource {
  if (keys.length === 0) throw new UsageError(`${origin} holds no key`);
  return { keys: () => keys, initial: keys, checkSession: undefined, origin: `the key from ${origin}`, close: async () => {} };
}

function readKeyFile(file: string): string[] {
  try {
    return splitKeys(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new SsoctlError(`cannot read --key-file ${file}: ${describeFsError(error)}`, { cause: error });
  }
}

function splitKeys(text: string): string[] {
  return text.split(/[\s,]+/).filter((key) => key !== "");
}

const FLAG_OF: Record<string, string> = {
  upstream: "--upstream",
  loginUrl: "--login-url",
  appUrl: "--app-url",
  cookieName: "--cookie-name",
  cookieDomain: "--cookie-domain",
  logoutUrl: "--logout-url",
  anonymousParameterName: "--anonymous-parameter",
  logoutParameterName: "--logout-parameter",
  port: "--port",
  host: "--host",
};

/** "ssoctl guard: loginUrl … " → "--login-url …": one set of checks, worded for the command line. */
function asFlagMessage(message: string, keyOrigin: string): string {
  const text = message.replace(/^ssoctl (guard|protect): /, "");
  const match = /^([A-Za-z]+)(\[\d+\])?/.exec(text);
  if (match === null) return text;
  if (match[1] === "secretKey") return `${keyOrigin}${text.slice(match[0].length)}`;
  const flag = FLAG_OF[match[1]!];
  let result = flag === undefined ? text : flag + text.slice(match[0].length);
  // Option names inside the sentence too ("anonymousParameterName and logoutParameterName must differ");
  // plain words like "host" stay as they are.
  for (const [name, replacement] of Object.entries(FLAG_OF)) {
    if (/[A-Z]/.test(name)) result = result.replace(new RegExp(`(?<![-\\w])${name}\\b`, "g"), replacement);
  }
  return result;
}
