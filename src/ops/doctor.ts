/**
 * `ssoctl doctor`: checks an installation the way `serve` would run it, and says
 * how to fix what is wrong. It never changes anything: SQLite is opened read-only
 * (no migrations applied), PostgreSQL in a READ ONLY transaction, and `--app`
 * fetches are plain GETs without a login.
 */
import Database from "better-sqlite3";
import { lookup } from "node:dns/promises";
import * as fs from "node:fs";
import { isIP } from "node:net";
import * as path from "node:path";
import { request } from "undici";
import { readSecret, type DataDir } from "../data-dir.js";
import { metadataWarnings, parseSpMetadata, type SpMetadata } from "../protocols/saml/metadata.js";
import { loadMigrations, migrationsDir, type Engine } from "../store/migrations.js";
import type { ServerConfig } from "../server/config.js";
import type { MailSettings } from "../mail/settings.js";
import { cookieDomainProblem, cookieReachesHost, sharedParentDomain } from "../cookie.js";

export type Status = "pass" | "warn" | "fail";

export interface Check {
  check: string;
  status: Status;
  detail: string;
  /** For a warning or a failure: what to do. */
  fix?: string | undefined;
}

/** What doctor reads from the database, read-only. */
export interface DatabaseFacts {
  engine: Engine;
  where: string;
  /** "ok", or what the database's own check found. */
  integrity: string;
  appliedMigrations: number[];
  apps: Array<{ name: string; origin: string }>;
  /** The newest time the database holds (audit, sessions), seconds; null when empty. */
  newestTimestamp: number | null;
  /** PostgreSQL's clock, seconds; null for SQLite. */
  databaseNow: number | null;
  /** PostgreSQL only: whether the signing key row exists. */
  hasSigningKey: boolean | null;
  /** The registered SAML SPs' metadata (none before the SAML migration ran). */
  samlSps: Array<{ entityId: string; metadata: string }>;
  /** Mail given up on in the last day (the audit trail's `mail.failed` rows). */
  mailFailures?: MailFailures | undefined;
}

export interface MailFailures {
  count: number;
  lastAt: number | null;
  lastError: string | null;
}

/** How far back doctor looks for mail that could not be sent. */
const MAIL_FAILURE_WINDOW = 86400;

function mailFailuresOf(count: number, last: { at: number; detail: string } | undefined): MailFailures {
  let lastError: string | null = null;
  try {
    lastError = last === undefined ? null : String((JSON.parse(last.detail) as { error?: unknown }).error ?? "") || null;
  } catch {
    lastError = null;
  }
  return { count, lastAt: last?.at ?? null, lastError };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Reads the SQLite database without writing to it: `query_only` refuses every write, and no
 * migration runs. Not a read-only open: that leaves a -wal and -shm behind in the data
 * directory, where a connection that only reads removes them on close as SQLite always does.
 */
export function sqliteFacts(dataDir: DataDir): DatabaseFacts {
  const db = new Database(dataDir.dbPath, { fileMustExist: true });
  try {
    db.pragma("query_only = ON");
    db.pragma("busy_timeout = 5000");
    const integrity = String(db.pragma("quick_check", { simple: true }));
    const applied = db.prepare<[], number>("SELECT version FROM schema_migrations ORDER BY version").pluck().all();
    const apps = db.prepare<[], { name: string; origin: string }>("SELECT name, origin FROM apps ORDER BY name").all();
    const newest = db.prepare<[], number | null>("SELECT max(t) FROM (SELECT max(at) AS t FROM audit UNION ALL SELECT max(created_at) FROM sessions)").pluck().get() ?? null;
    const since = Math.floor(Date.now() / 1000) - MAIL_FAILURE_WINDOW;
    const failed = db.prepare<[number], number>("SELECT count(*) FROM audit WHERE event = 'mail.failed' AND at > ?").pluck().get(since) ?? 0;
    const last = db.prepare<[number], { at: number; detail: string }>("SELECT at, detail FROM audit WHERE event = 'mail.failed' AND at > ? ORDER BY id DESC LIMIT 1").get(since);
    const hasSaml = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'saml_sps'").get() !== undefined;
    const samlSps = hasSaml ? db.prepare<[], { entityId: string; metadata: string }>("SELECT entity_id AS entityId, metadata FROM saml_sps ORDER BY entity_id").all() : [];
    return { engine: "sqlite", where: dataDir.dbPath, integrity, appliedMigrations: applied, apps, newestTimestamp: newest, databaseNow: null, hasSigningKey: null, samlSps, mailFailures: mailFailuresOf(failed, last) };
  } finally {
    db.close();
  }
}

/** Reads the PostgreSQL database inside a READ ONLY transaction. */
export async function postgresFacts(url: string, source: string): Promise<DatabaseFacts> {
  const [{ default: pg }, { parsePostgresUrl, describePostgresError }] = await Promise.all([import("pg"), import("../store/postgres/connection.js")]);
  const target = parsePostgresUrl(url, source);
  const client = new pg.Client(target.config);
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    throw new Error(describePostgresError(error, target));
  }
  try {
    await client.query("BEGIN READ ONLY");
    const present = await client.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
    if (!present.rows[0]?.present) {
      return { engine: "postgres", where: target.where, integrity: "no ssoctl tables (run `ssoctl init` with this database)", appliedMigrations: [], apps: [], newestTimestamp: null, databaseNow: null, hasSigningKey: false, samlSps: [] };
    }
    const applied = (await client.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")).rows.map((r) => Number(r.version));
    const apps = (await client.query<{ name: string; origin: string }>("SELECT name, origin FROM apps ORDER BY name")).rows;
    const newest = (await client.query<{ t: string | null }>("SELECT greatest((SELECT max(at) FROM audit), (SELECT max(created_at) FROM sessions)) AS t")).rows[0]?.t ?? null;
    const now = (await client.query<{ now: string }>("SELECT extract(epoch FROM now())::bigint AS now")).rows[0]!.now;
    const key = (await client.query("SELECT 1 FROM signing_key WHERE id = 1")).rowCount ?? 0;
    const since = Number(now) - MAIL_FAILURE_WINDOW;
    const failed = (await client.query<{ n: string }>("SELECT count(*) AS n FROM audit WHERE event = 'mail.failed' AND at > $1", [since])).rows[0]?.n ?? "0";
    const last = (await client.query<{ at: string; detail: string }>("SELECT at, detail::text AS detail FROM audit WHERE event = 'mail.failed' AND at > $1 ORDER BY id DESC LIMIT 1", [since])).rows[0];
    const hasSaml = (await client.query<{ present: boolean }>("SELECT to_regclass('saml_sps') IS NOT NULL AS present")).rows[0]?.present === true;
    const samlSps = hasSaml ? (await client.query<{ entityId: string; metadata: string }>('SELECT entity_id AS "entityId", metadata FROM saml_sps ORDER BY entity_id')).rows : [];
    await client.query("ROLLBACK");
    return { engine: "postgres", where: target.where, integrity: "ok", appliedMigrations: applied, apps, newestTimestamp: newest === null ? null : Number(newest), databaseNow: Number(now), hasSigningKey: key > 0, samlSps, mailFailures: mailFailuresOf(Number(failed), last === undefined ? undefined : { at: Number(last.at), detail: last.detail }) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** The data directory (0700) and its files (0600): group or others must not read the key or the database. */
export function checkDataDir(dataDir: DataDir): Check[] {
  const checks: Check[] = [];
  const stat = fs.statSync(dataDir.dir, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isDirectory()) {
    return [{ check: "data directory", status: "fail", detail: `${dataDir.dir} does not exist`, fix: `ssoctl init --data-dir ${dataDir.dir} (or pass the right --data-dir)` }];
  }
  const loose = (mode: number): boolean => (mode & 0o077) !== 0;
  checks.push(
    loose(stat.mode)
      ? { check: "data directory", status: "fail", detail: `${dataDir.dir} is mode ${octal(stat.mode)}: others can list it`, fix: `chmod 700 ${dataDir.dir}` }
      : { check: "data directory", status: "pass", detail: `${dataDir.dir} is mode ${octal(stat.mode)}` },
  );
  for (const file of [dataDir.keyPath, dataDir.dbPath]) {
    const name = path.basename(file);
    const fileStat = fs.statSync(file, { throwIfNoEntry: false });
    if (fileStat === undefined) {
      checks.push({ check: `${name} mode`, status: "fail", detail: `${file} is missing`, fix: `restore it from a backup, or ssoctl init a new data directory` });
    } else if (loose(fileStat.mode)) {
      checks.push({ check: `${name} mode`, status: "fail", detail: `${file} is mode ${octal(fileStat.mode)}: group or others can read it`, fix: `chmod 600 ${file}` });
    } else {
      checks.push({ check: `${name} mode`, status: "pass", detail: `mode ${octal(fileStat.mode)}` });
    }
  }
  // OpenID Connect: the provider's private signing keys; made at the first start when missing.
  const oidcKeys = path.join(dataDir.dir, "oidc-keys.json");
  const oidcStat = fs.statSync(oidcKeys, { throwIfNoEntry: false });
  if (oidcStat !== undefined && loose(oidcStat.mode)) {
    checks.push({ check: "oidc-keys.json mode", status: "fail", detail: `${oidcKeys} is mode ${octal(oidcStat.mode)}: group or others can read it`, fix: `chmod 600 ${oidcKeys}` });
  } else if (oidcStat !== undefined) {
    checks.push({ check: "oidc-keys.json mode", status: "pass", detail: `mode ${octal(oidcStat.mode)}` });
  }
  try {
    readSecret(dataDir);
    checks.push({ check: "signing key", status: "pass", detail: `${dataDir.keyPath} holds a valid key` });
  } catch (error) {
    checks.push({ check: "signing key", status: "fail", detail: (error as Error).message, fix: "restore secret.key from a backup (ssoctl backup writes it beside the database copy)" });
  }
  return checks;
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

export function checkDatabase(facts: DatabaseFacts): Check[] {
  const checks: Check[] = [];
  checks.push(
    facts.integrity === "ok"
      ? { check: "database integrity", status: "pass", detail: `${facts.where}: ${facts.engine === "sqlite" ? "SQLite quick_check ok" : "reachable, ssoctl tables present"}` }
      : { check: "database integrity", status: "fail", detail: `${facts.where}: ${facts.integrity.split("\n")[0]}`, fix: facts.engine === "sqlite" ? "stop the server and restore the database from a backup (see README, Backups)" : "run `ssoctl init` with this database, or fix SSOCTL_DATABASE_URL" },
  );
  const known = loadMigrations(migrationsDir(facts.engine)).map((m) => m.version);
  const missing = known.filter((v) => !facts.appliedMigrations.includes(v));
  const newer = facts.appliedMigrations.filter((v) => !known.includes(v));
  if (newer.length > 0) {
    checks.push({ check: "migrations", status: "fail", detail: `the database has migrations this ssoctl does not know (${newer.join(", ")})`, fix: "upgrade ssoctl to the version that wrote the database" });
  } else if (missing.length > 0) {
    checks.push({ check: "migrations", status: "warn", detail: `not yet applied: ${missing.join(", ")}`, fix: "the next `ssoctl serve` (or any command that writes) applies them; back up first" });
  } else {
    checks.push({ check: "migrations", status: "pass", detail: `all ${known.length} applied` });
  }
  if (facts.hasSigningKey === false) {
    checks.push({ check: "signing key", status: "fail", detail: "the database holds no signing key", fix: "ssoctl init with this database (it creates the key)" });
  } else if (facts.hasSigningKey === true) {
    checks.push({ check: "signing key", status: "pass", detail: "the database holds the signing key" });
  }
  return checks;
}

export function checkPublicUrl(config: ServerConfig): Check {
  const url = new URL(config.publicUrl);
  if (url.protocol === "https:") return { check: "public URL", status: "pass", detail: `${config.publicUrl} (https; the cookie is Secure)` };
  if (isLoopbackHost(url.hostname)) return { check: "public URL", status: "pass", detail: `${config.publicUrl} (http on loopback: fine for trying it out)` };
  return {
    check: "public URL",
    status: "fail",
    detail: `${config.publicUrl} is http on a non-loopback host: passwords and the login cookie cross the network in clear`,
    fix: "serve it over https behind a TLS proxy and pass --public-url https://…",
  };
}

/**
 * The commonest SSO mistake: an app the login cookie does not reach never sees the login
 * and sends the browser back to the login page for ever.
 */
export function checkCookieDomain(config: ServerConfig, apps: Array<{ name: string; origin: string }>): Check[] {
  const publicHost = new URL(config.publicUrl).hostname.toLowerCase();
  const domain = config.cookieDomain;
  const checks: Check[] = [];
  if (domain !== undefined) {
    const problem = cookieDomainProblem(publicHost, domain);
    if (problem !== null) {
      checks.push({ check: "cookie domain", status: "fail", detail: problem.reason, fix: problem.fix });
      return checks;
    }
  }
  const scope = domain === undefined ? `host ${publicHost} only (no --cookie-domain)` : `${domain} and its subdomains`;
  const outside = apps.filter((app) => !cookieReachesHost(new URL(app.origin).hostname.toLowerCase(), publicHost, domain));
  for (const app of outside) {
    const host = new URL(app.origin).hostname.toLowerCase();
    const shared = sharedParentDomain([publicHost, host]);
    checks.push({
      check: "cookie domain",
      status: "fail",
      detail: `app "${app.name}" (${app.origin}) is outside the login cookie's reach (${scope}): it never sees the login and sends the browser back to sign in again and again`,
      fix: shared !== null ? `ssoctl serve --cookie-domain ${shared} (the login server and the app share it)` : `serve the app under the login server's domain, or run a login server under the app's domain`,
    });
  }
  if (config.secure) {
    for (const app of apps.filter((a) => a.origin.startsWith("http://") && !isLoopbackHost(new URL(a.origin).hostname))) {
      checks.push({ check: "cookie domain", status: "fail", detail: `app "${app.name}" (${app.origin}) is http: the login cookie is Secure (https public URL), so browsers never send it there`, fix: `serve the app over https and register it again: ssoctl app add https://${new URL(app.origin).host}` });
    }
  }
  if (checks.length === 0) {
    checks.push({ check: "cookie domain", status: "pass", detail: apps.length === 0 ? `${scope}; no apps registered yet` : `${scope}; reaches all ${apps.length} registered app(s)` });
  }
  return checks;
}

export function checkTrustedProxies(config: ServerConfig): Check {
  const everyone = config.trustedProxies.filter((cidr) => /^(0\.0\.0\.0|::)\/0$/.test(cidr));
  if (everyone.length > 0) {
    return {
      check: "trusted proxies",
      status: "fail",
      detail: `--trusted-proxy ${everyone.join(", ")} trusts every address: anyone can set X-Forwarded-For (throttling by address is void) and ask forward auth directly`,
      fix: "name only your proxies' addresses in --trusted-proxy",
    };
  }
  const loopbackOnly = config.trustedProxies.every((cidr) => cidr.startsWith("127.") || cidr === "::1/128" || cidr === "::1");
  if (loopbackOnly && config.host !== "127.0.0.1" && config.host !== "::1" && config.host !== "localhost") {
    return {
      check: "trusted proxies",
      status: "warn",
      detail: `listening on ${config.host} but trusting only loopback proxies: a proxy on another host gets 403 from forward auth`,
      fix: "add --trusted-proxy ADDRESS for each proxy on another host",
    };
  }
  return { check: "trusted proxies", status: "pass", detail: config.trustedProxies.join(", ") };
}

/** A clock far off breaks token expiry; one behind the database's newest row went backwards. */
export function checkClock(now: number, facts: DatabaseFacts): Check {
  if (now < Date.UTC(2024, 0, 1) / 1000) {
    return { check: "clock", status: "fail", detail: `this machine's clock says ${new Date(now * 1000).toISOString()}`, fix: "set the clock (enable NTP: timedatectl set-ntp true)" };
  }
  if (facts.databaseNow !== null && Math.abs(facts.databaseNow - now) > 30) {
    return { check: "clock", status: "fail", detail: `this machine's clock is ${facts.databaseNow - now > 0 ? "behind" : "ahead of"} PostgreSQL's by ${Math.abs(facts.databaseNow - now)} s; login servers sharing the database disagree on expiry`, fix: "enable NTP on every login server and the database host (timedatectl set-ntp true)" };
  }
  if (facts.newestTimestamp !== null && facts.newestTimestamp > now + 300) {
    return { check: "clock", status: "fail", detail: `the database holds times up to ${Math.round((facts.newestTimestamp - now) / 60)} min in the future: this clock went backwards (or another server's runs ahead)`, fix: "set the clock right on every machine (enable NTP: timedatectl set-ntp true)" };
  }
  return { check: "clock", status: "pass", detail: `${new Date(now * 1000).toISOString()}${facts.databaseNow !== null ? ", agrees with PostgreSQL" : ""}` };
}

/** Every registered app's host resolvable from here: a warning (this machine may simply not be on the app's network). */
export async function checkAppHosts(apps: Array<{ name: string; origin: string }>, timeoutMs = 3000): Promise<Check[]> {
  return Promise.all(
    apps.map(async (app): Promise<Check> => {
      const host = new URL(app.origin).hostname.replace(/^\[|\]$/g, "");
      if (isIP(host) !== 0) return { check: `app ${app.name}`, status: "pass", detail: `${app.origin} (an IP address)` };
      try {
        const found = await Promise.race([
          lookup(host),
          new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error("no answer")), timeoutMs).unref()),
        ]);
        return { check: `app ${app.name}`, status: "pass", detail: `${host} resolves to ${found.address}` };
      } catch (error) {
        return { check: `app ${app.name}`, status: "warn", detail: `${host} does not resolve from here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, fix: "check the app's DNS name (ssoctl app list); ignore if this machine is on another network" };
      }
    }),
  );
}

/**
 * Fetches the app without a login: a protected app answers with a redirect to this login
 * server's /login (a guard or a proxy's forward auth), never with the page itself.
 */
export async function checkAppProtected(appUrl: string, config: ServerConfig, apps: Array<{ name: string; origin: string }>, timeoutMs = 5000): Promise<Check> {
  const name = `--app ${appUrl}`;
  let url: URL;
  try {
    url = new URL(appUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
  } catch {
    return { check: name, status: "fail", detail: "not an http(s) URL", fix: "give the app's full URL, e.g. --app https://wiki.example.com/" };
  }
  const registered = apps.some((app) => app.origin === url.origin);
  let status: number;
  let location: string | undefined;
  try {
    // undici's request never follows redirects: the first answer is the app's own.
    const response = await request(url, { method: "GET", headers: { accept: "text/html" }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    status = response.statusCode;
    const header = response.headers.location;
    location = Array.isArray(header) ? header[0] : header;
    await response.body.dump();
  } catch (error) {
    return { check: name, status: "fail", detail: `cannot fetch it from here: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, fix: "check the URL, and that the app runs and is reachable from this machine" };
  }
  const login = new URL(`${config.publicUrl}/login`);
  if (status >= 300 && status < 400 && location !== undefined) {
    let target: URL | null = null;
    try {
      target = new URL(location, url);
    } catch {
      target = null;
    }
    const answer = target === null ? null : recogniseSignInRedirect(target, config.publicUrl, apps);
    if (answer?.kind === "login") {
      return registered
        ? { check: name, status: "pass", detail: `answers ${status} to this login server's sign-in page` }
        : { check: name, status: "fail", detail: `sends the browser here, but ${url.origin} is not a registered app: the sign-in page refuses to send the browser back`, fix: `ssoctl app add ${url.origin}` };
    }
    if (answer?.kind === "oidc") {
      return answer.clientId === null
        ? { check: name, status: "fail", detail: `redirects (${status}) to this login server's OpenID Connect authorization endpoint without a client_id`, fix: "set the app's OpenID Connect client id (ssoctl client list)" }
        : { check: name, status: "pass", detail: `answers ${status} to this login server's OpenID Connect authorization endpoint (client_id ${answer.clientId}; ssoctl client list shows whether it is registered)` };
    }
    if (answer?.kind === "cas") {
      if (answer.service === null) {
        return { check: name, status: "fail", detail: `redirects (${status}) to this login server's CAS login without one service URL`, fix: "set the app's CAS service URL" };
      }
      return answer.registered
        ? { check: name, status: "pass", detail: `answers ${status} to this login server's CAS login (service ${answer.service})` }
        : { check: name, status: "fail", detail: `sends the browser to this login server's CAS login, but the service ${answer.service} is not inside a registered app: CAS refuses it`, fix: `ssoctl app add ${safeOrigin(answer.service)}` };
    }
    const endpoints = `${login.href}, ${config.publicUrl}/oidc/auth or ${config.publicUrl}/cas/login`;
    return { check: name, status: "fail", detail: `redirects (${status}) to ${target?.href ?? location}, not to ${endpoints}: it is protected by something else, or it points at another login server`, fix: `point its guard, proxy or OpenID Connect / CAS client at this login server (README, "Put an app behind it")` };
  }
  if (status === 401 || status === 403) {
    return { check: name, status: "warn", detail: `answers ${status} without a redirect to the sign-in page: protected, but a browser is not sent to sign in`, fix: "for nginx, add error_page 401 = @login (README, nginx); for a guard, use loginRedirect" };
  }
  return { check: name, status: "fail", detail: `answers ${status} without a login: the app is not protected`, fix: `put it behind ssoctl (README, "Put an app behind it"): a guard, nginx auth_request, Caddy forward_auth or ssoctl protect` };
}

/**
 * Mail: whether the way out works now (connects, STARTTLS, logs in; or the directory is writable),
 * and what the server could not send in the last day. Without a `mail` section: a note that
 * "Forgot your password?" and notices are off.
 */
export async function checkMail(settings: MailSettings | null, facts: DatabaseFacts | null, publicUrl: string): Promise<Check[]> {
  if (settings === null) {
    return [{ check: "mail", status: "pass", detail: 'not configured: no "Forgot your password?", invitations are printed, no notices (README, Mail)' }];
  }
  const { Notifier } = await import("../mail/notifier.js");
  const notifier = new Notifier(settings, { title: "ssoctl doctor", publicUrl });
  const checks: Check[] = [];
  try {
    checks.push({ check: "mail", status: "pass", detail: await notifier.outbox.transport.verify() });
  } catch (error) {
    checks.push({
      check: "mail",
      status: "fail",
      detail: `${notifier.outbox.transport.description}: ${(error as Error).message}`,
      fix: settings.transport.kind === "smtp" ? "check mail.smtp (host, port, starttls/tls, user, password_file, ca_file); ssoctl mail test ADDRESS shows the server's answer" : `create ${settings.transport.directory} and let the server's user write to it`,
    });
  }
  const failures = facts?.mailFailures;
  if (failures !== undefined && failures.count > 0) {
    checks.push({
      check: "mail delivery",
      status: "warn",
      detail: `${failures.count} message(s) could not be sent in the last 24 h${failures.lastAt !== null ? `, the last at ${new Date(failures.lastAt * 1000).toISOString()}` : ""}${failures.lastError !== null ? `: ${failures.lastError}` : ""}`,
      fix: "see the server's mail.failed log lines; ssoctl mail test ADDRESS tries a message now",
    });
  } else if (failures !== undefined) {
    checks.push({ check: "mail delivery", status: "pass", detail: "no message given up on in the last 24 h" });
  }
  return checks;
}

/**
 * Asks the login server these settings describe for /healthz at its listening address: the
 * settings doctor checks are then the ones that server runs with (same config file, same port).
 * Not running is a warning: doctor also runs before the first start and before an upgrade.
 */
export async function checkRunningServer(config: ServerConfig, timeoutMs = 3000): Promise<Check> {
  const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host === "::" ? "::1" : config.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${config.port}/healthz`;
  if (config.port === 0) return { check: "login server", status: "warn", detail: "port 0: a server with these settings listens on a port chosen at start", fix: "set server.port (or --port) to check it" };
  try {
    const response = await request(url, { method: "GET", headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = await response.body.text();
    if (response.statusCode === 200) return { check: "login server", status: "pass", detail: `${url} answers 200 ${body.trim().slice(0, 60)}` };
    return { check: "login server", status: "fail", detail: `${url} answers ${response.statusCode}: the server runs but its database does not answer`, fix: "see the server's log (journalctl -u ssoctl)" };
  } catch (error) {
    return {
      check: "login server",
      status: "warn",
      detail: `nothing answers at ${url} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      fix: "start it (systemctl start ssoctl), or run doctor with the config file the server uses (--config FILE)",
    };
  }
}

/** Inline secrets and the file read, from the config loader. */
export function checkConfigFile(file: string | null, warnings: readonly string[]): Check[] {
  if (warnings.length > 0) {
    return warnings.map((warning) => ({ check: "config file", status: "warn" as const, detail: warning, fix: "move the secret to a file (KEY_file) or the environment" }));
  }
  return [{ check: "config file", status: "pass", detail: file === null ? "none (flags, SSOCTL_* variables and defaults)" : `${file} is valid` }];
}

type SignInRedirect = { kind: "login" } | { kind: "oidc"; clientId: string | null } | { kind: "cas"; service: string | null; registered: boolean };

function safeOrigin(text: string): string {
  try {
    return new URL(text).origin;
  } catch {
    return text;
  }
}

/**
 * Which of this login server's ways in a redirect leads to: its sign-in page (a guard or forward
 * auth), its OpenID Connect authorization endpoint, or its CAS login; null for anything else.
 */
export function recogniseSignInRedirect(target: URL, publicUrl: string, apps: Array<{ origin: string }>): SignInRedirect | null {
  const at = (path: string): boolean => {
    const endpoint = new URL(`${publicUrl}${path}`);
    return target.origin === endpoint.origin && target.pathname === endpoint.pathname;
  };
  if (at("/login")) return { kind: "login" };
  if (at("/oidc/auth")) return { kind: "oidc", clientId: target.searchParams.get("client_id") };
  if (at("/cas/login")) {
    const services = target.searchParams.getAll("service");
    if (services.length !== 1) return { kind: "cas", service: null, registered: false };
    const service = services[0]!;
    return { kind: "cas", service, registered: apps.some((app) => safeOrigin(service) === app.origin) };
  }
  return null;
}

export function exitCodeOf(checks: Check[]): number {
  return checks.some((c) => c.status === "fail") ? 1 : 0;
}

/** Each SAML SP's registered metadata: it still parses, its ACS URLs are on https, its certificates have not expired. */
export function checkSamlSps(sps: ReadonlyArray<{ entityId: string; metadata: string }>, now: number): Check[] {
  return sps.map((sp): Check => {
    const check = `SAML SP ${sp.entityId}`;
    let metadata: SpMetadata;
    try {
      metadata = parseSpMetadata(sp.metadata);
    } catch (error) {
      return { check, status: "fail", detail: `its registered metadata is not usable: ${(error as Error).message}`, fix: `ssoctl saml add APP --metadata FILE --replace with the SP's current metadata` };
    }
    const problems = metadataWarnings(metadata, now);
    if (problems.length > 0) {
      return { check, status: "fail", detail: problems.join("; "), fix: "serve the SP over https / renew its certificate, then ssoctl saml add APP --metadata FILE --replace" };
    }
    return { check, status: "pass", detail: `${metadata.acs.length} ACS URL(s) on https, ${metadata.signingCertificates.length} signing certificate(s) valid` };
  });
}
