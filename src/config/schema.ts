/**
 * The config file's sections: every setting ssoctl reads from `ssoctl.yaml`, the environment or
 * a flag. Names follow one rule: `server.public_url` in the file is `SSOCTL_PUBLIC_URL` in the
 * environment and `--public-url` on the command line (`server` and `storage` keys are unprefixed
 * in the environment; every other section's are `SSOCTL_<SECTION>_<KEY>`, so `mail.smtp.host` is
 * `SSOCTL_MAIL_SMTP_HOST`). Precedence is flag > environment > file > default, in every command,
 * through src/config/load.ts.
 *
 * Adding a section (`mail`, `directory`, `ldap`, `admin`, …) is one entry in CONFIG_SECTIONS:
 *
 *     mail: {
 *       env: "SSOCTL_MAIL_",
 *       settings: {
 *         from: text({ describe: "sender address" }),
 *         "smtp.host": text({ describe: "SMTP server" }),          // file: mail.smtp.host
 *         "smtp.password": secret(text({ describe: "SMTP password" })), // also mail.smtp.password_file
 *       },
 *     },
 *
 * and reading it where it is used: `config.get<string>("mail.smtp.host")` (undefined when unset
 * and without default). The file's validation, `config show`, `config check` and the environment
 * variables come from the declaration; a dotted key nests in the file. A rule across keys of the
 * section (one of two must be given) goes in `check`, which returns a problem or null.
 * Desired-state sections (`users`, `apps`, …) are not here: see src/state/sections.ts.
 */
import { isValidCookieDomain, isValidCookieName } from "../cookie.js";
import { defaultDataDir } from "../data-dir.js";
import { parsePostgresUrl } from "../store/postgres/connection.js";
import { TrustedProxies } from "../server/trusted-proxy.js";
import { boolean, duration, filePath, integer, list, secret, text, url, type Setting } from "./settings.js";

export interface ConfigSection {
  /** The environment variables' prefix. */
  env: string;
  /** Dotted keys within the section. */
  settings: Record<string, Setting<any>>;
  /** A rule across the section's values (by key); a problem or null. */
  check?: (values: ReadonlyMap<string, unknown>) => string | null;
}

function cidr(value: string): string | null {
  try {
    new TrustedProxies([value]);
    return null;
  } catch {
    return `"${value}" is not an IP address or CIDR range`;
  }
}

/** A database URL's password stays hidden in `config show`. */
function maskUrlPassword(value: string): string {
  try {
    const parsed = new URL(value);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.href;
  } catch {
    return "********";
  }
}

/** Checked by the PostgreSQL store's own parser, whose messages say what to write and never show the password. */
function databaseUrl(): Setting<string> {
  const setting = text({ describe: "PostgreSQL database shared by several login servers, postgres://USER@HOST/DB (without it: SQLite in the data directory)", flag: "database", placeholder: "url" });
  return {
    ...setting,
    expected: "a PostgreSQL URL like postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
    check: (raw, context) => {
      parsePostgresUrl(String(raw), context.source ?? "storage.database_url");
      return String(raw);
    },
  };
}

function hasUrlPassword(value: string): boolean {
  try {
    return new URL(value).password !== "";
  } catch {
    return false;
  }
}

export const CONFIG_SECTIONS = {
  server: {
    env: "SSOCTL_",
    settings: {
      host: text({ describe: "address to listen on", default: "127.0.0.1", placeholder: "address" }),
      port: integer({ describe: "port to listen on", min: 0, max: 65535, default: 8081 }),
      public_url: url({ describe: "URL browsers use to reach this server; https makes the cookie Secure (default: http://HOST:PORT)", protocols: ["http:", "https:"], example: "https://login.example.com" }),
      cookie_name: text({ describe: "login cookie name", default: "ssoctl", placeholder: "name", check: (v) => (isValidCookieName(v) ? null : "a cookie name (letters, digits and !#$%&'*+-.^_`|~)") }),
      cookie_domain: text({ describe: "share the login cookie with every host of this domain (default: this host only)", placeholder: "domain", check: (v) => (isValidCookieDomain(v) ? null : "a domain name like example.com") }),
      session_ttl: duration({ describe: "how long a sign-in lasts", default: 12 * 3600, min: 60 }),
      redirect: boolean({ describe: "redirect to the app after sign-in (false: show a page with a link instead)", flagDescribe: "after sign-in show a page with a link instead of redirecting", default: true, negatedFlag: true }),
      trusted_proxy: list({ describe: "proxies whose X-Forwarded-* headers count (default loopback)", item: "IP addresses or CIDR ranges", check: cidr, live: true, placeholder: "cidr", flagDescribe: "a proxy whose X-Forwarded-* headers count (repeatable; default loopback)" }),
      views: filePath({ describe: "directory of .ejs pages (and ssoctl.css) that replace the built-in ones", placeholder: "dir" }),
      title: text({ describe: "title shown on the pages", default: "Single sign-on", check: (v) => (v.length >= 1 && v.length <= 100 ? null : "1 to 100 characters") }),
      max_user_failures: integer({ describe: "failed sign-ins per username before a lock", min: 1, max: 1_000_000, default: 5, live: true }),
      max_addr_failures: integer({ describe: "failed sign-ins per client address before a lock", min: 1, max: 1_000_000, default: 20, live: true }),
      ipv6_prefix: integer({ describe: "count IPv6 clients by this network prefix for throttling (128: each address)", placeholder: "bits", min: 1, max: 128, default: 64, live: true }),
      failure_window: duration({ describe: "window in which failures are counted", default: 600, live: true }),
      lockout: duration({ describe: "how long a lock lasts", default: 600, live: true }),
      hash_concurrency: integer({ describe: "password checks at once", min: 1, max: 64, default: 2 }),
      hash_queue: integer({ describe: "sign-ins that may wait for a password check; past it the server answers 503", min: 0, max: 10_000, default: 32 }),
      allow_new_passkey_domain: boolean({ describe: "start although passkeys were registered for another domain (they stop working)", default: false }),
      strict_enrolment: boolean({ describe: "a user without a second factor cannot enrol one at a two_factor app's door: only through an invitation, the account page or `ssoctl user totp enroll`", default: false }),
      metrics_allow: list({ describe: "client addresses or ranges /metrics answers (default loopback)", flagDescribe: "a client address or range /metrics answers (repeatable; default loopback)", item: "IP addresses or CIDR ranges", check: cidr, live: true, placeholder: "cidr" }),
    },
  },
  storage: {
    env: "SSOCTL_",
    settings: {
      data_dir: filePath({ describe: "data directory (default: /var/lib/ssoctl when it exists or under a service manager, else $XDG_DATA_HOME/ssoctl)", default: defaultDataDir, flag: "data-dir", placeholder: "dir" }),
      database_url: secret(databaseUrl(), { mask: maskUrlPassword, holdsSecret: hasUrlPassword }),
    },
  },
} satisfies Record<string, ConfigSection>;

export type SectionName = keyof typeof CONFIG_SECTIONS;
