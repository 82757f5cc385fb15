/**
 * PostgreSQL connection settings from a `postgres://` URL, and connection errors as one
 * line that says what is wrong and what to do. The password never appears in either.
 */
import type { ClientConfig } from "pg";
import { SsoctlError } from "../../errors.js";

/** Seconds a connection attempt may take before the command or request gives up. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** A query on a connection that stopped answering gives up after this. */
export const QUERY_TIMEOUT_MS = 10_000;

export function isPostgresUrl(text: string): boolean {
  return /^postgres(ql)?:\/\//i.test(text);
}

/** The URL without its password, for messages. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    // Not a URL we can read: show only its scheme, since a password may sit anywhere in it.
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(text)?.[0];
    return scheme === undefined ? "(not a URL)" : `${scheme}//…`;
  }
}

export interface PostgresTarget {
  config: ClientConfig;
  /** `user@host:port/database`, for messages. */
  where: string;
  host: string;
  database: string;
}

/** Reads the URL; a UsageError-like SsoctlError for anything that is not a usable postgres:// URL. */
export function parsePostgresUrl(text: string, source = "--database"): PostgresTarget {
  const problem = (why: string): SsoctlError =>
    new SsoctlError(`${source} ${redactUrl(text)} ${why}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (prefer SSOCTL_DATABASE_URL, which keeps the password out of ps)`, { exitCode: 2 });
  if (!isPostgresUrl(text)) throw problem("is not a PostgreSQL URL");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw problem("is not a well-formed URL");
  }
  let database: string;
  let user: string;
  let host: string;
  try {
    database = decodeURIComponent(url.pathname.slice(1));
    user = decodeURIComponent(url.username);
    host = url.searchParams.get("host") ?? decodeURIComponent(url.hostname);
  } catch {
    throw problem("is not a well-formed URL");
  }
  if (database === "" || database.includes("/")) throw problem("names no database");
  if (host === "") throw problem("names no host");
  const port = url.port === "" ? 5432 : Number(url.port);
  // pg reads everything else (user, password, sslmode…) from the URL itself.
  const config: ClientConfig = {
    connectionString: text,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    application_name: "ssoctl",
  };
  const hostText = host.startsWith("/") ? `socket ${host}` : `${host}:${port}`;
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
