/**
 * PostgreSQL connection settings from a `postgres://` URL, and connection errors as one
 * line that says what is wrong and what to do. The password never appears in either.
 */
import type { ClientConfig } from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { SsoctlError } from "../../errors.js";

/** Seconds a connection attempt may take before the command or request gives up. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** A query on a connection that stopped answering gives up after this. */
export const QUERY_TIMEOUT_MS = 10_000;

export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}

/**
 * The text with the password of a `scheme://user:password@…` URL replaced by `***`, as typed: a
 * password is often not percent-encoded (spaces, `= ; [ ] ^ | " < > { }`), and a raw `@` may sit in
 * it, so everything from the first `:` of the userinfo to the last `@` of the text is hidden.
 * Hiding a little too much only changes what a message or `ps` shows.
 */
export function maskPassword(text: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text);
  if (scheme === null) return text;
  const rest = text.slice(scheme[0].length);
  const at = rest.lastIndexOf("@");
  const colon = rest.indexOf(":");
  if (at === -1 || colon === -1 || colon > at) return text;
  return `${scheme[0]}${rest.slice(0, colon)}:***${rest.slice(at)}`;
}

/** The URL without its password, for messages. */
export function redactUrl(text: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return maskPassword(text);
  return /^[a-z][a-z0-9+.-]*:/i.test(text) ? `${/^[a-z][a-z0-9+.-]*:/i.exec(text)![0]}//…` : "(not a URL)";
}

export interface PostgresTarget {
  config: ClientConfig;
  /** `user@host:port/database`, for messages. */
  where: string;
  host: string;
  database: string;
}

/**
 * Reads the URL with pg's own connection-string parser, so every URL form pg connects with is
 * accepted: `postgresql://user@/db?host=/run/postgresql` (libpq's socket form), a percent-encoded
 * socket directory as the host, `[::1]`, `?port=` and `?user=`, an empty host (pg's default,
 * `PGHOST` or localhost). A database name is required: a login server must say where it writes.
 * Anything else is a usage SsoctlError that never shows the password.
 */
export function parsePostgresUrl(text: string, source = "--database"): PostgresTarget {
  const problem = (why: string): SsoctlError =>
    new SsoctlError(`${source} ${redactUrl(text)} ${why}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (prefer SSOCTL_DATABASE_URL, which keeps the password out of ps)`, { exitCode: 2 });
  if (!isPostgresUrl(text)) throw problem("is not a PostgreSQL URL");
  let parsed: ReturnType<typeof parseConnectionString>;
  try {
    parsed = parseConnectionString(text);
  } catch {
    throw problem("is not a well-formed URL");
  }
  const database = parsed.database ?? "";
  if (database === "" || database.includes("/")) throw problem("names no database");
  const host = parsed.host === undefined || parsed.host === null || parsed.host === "" ? (process.env.PGHOST ?? "localhost") : parsed.host;
  const portText = parsed.port ?? "";
  const port = portText === "" ? 5432 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw problem("names no valid port");
  const user = parsed.user ?? "";
  // pg reads everything else (user, password, sslmode…) from the URL itself.
  const config: ClientConfig = {
    connectionString: text,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    application_name: "ssoctl",
  };
  const hostText = host.startsWith("/") ? `socket ${host}` : `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return { config, where: `${user === "" ? "" : `${user}@`}${hostText}/${database}`, host: hostText, database };
}

/** A connection or query error as one line naming what failed and what to do. */
export function describePostgresError(error: unknown, target: PostgresTarget): string {
  const e = error as { code?: string; message?: string };
  const code = e?.code ?? "";
  const message = e?.message ?? String(error);
  switch (code) {
    case "28P01":
      return `PostgreSQL refused the password for ${target.where}; check the password in the URL (SSOCTL_DATABASE_URL)`;
    case "28000":
      return `PostgreSQL refused ${target.where}: ${message}; check the user name in the URL and pg_hba.conf`;
    case "3D000":
      return `the database "${target.database}" does not exist on ${target.host}; create it (createdb ${target.database}) or fix the URL`;
    case "ECONNREFUSED":
      return `cannot connect to PostgreSQL at ${target.host}: connection refused; is PostgreSQL running there?`;
    case "ENOENT":
      return `cannot connect to PostgreSQL at ${target.host}: no server socket there; is PostgreSQL running?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot connect to PostgreSQL: the host of ${target.host} is unknown; check the URL`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `cannot connect to PostgreSQL at ${target.host}: the host is unreachable; check the URL and the network`;
    case "57P03":
      return `PostgreSQL at ${target.host} is starting up or shutting down; try again in a moment`;
    default:
      break;
  }
  if (/timeout/i.test(message)) {
    return `no answer from PostgreSQL at ${target.host} within ${CONNECT_TIMEOUT_MS / 1000} s; check the host and port in the URL and any firewall`;
  }
  if (/terminated|ECONNRESET|Connection terminated/i.test(message)) {
    return `the connection to PostgreSQL at ${target.host} was lost; is PostgreSQL running?`;
  }
  return `PostgreSQL at ${target.host}: ${message.split("\n")[0]}`;
}
