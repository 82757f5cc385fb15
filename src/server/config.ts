/** `ssoctl serve` settings, validated once at start-up. */
import { isValidCookieDomain, isValidCookieName } from "../cookie.js";
import { DEFAULT_IPV6_PREFIX, DEFAULT_THROTTLE, type ThrottlePolicy } from "../throttle.js";
import type { EnrolmentChoice } from "../sign-in/steps.js";
import { LOOPBACK_CIDRS, TrustedProxies } from "./trusted-proxy.js";
import { checkLdapOptions, type LdapInterfaceOptions } from "../protocols/ldap/server.js";
import type { DirectoryOptions } from "../directory/source.js";

/** A directory as the source of users who are not local, and how often live sessions are re-checked. */
export interface DirectoryConfig {
  options: DirectoryOptions;
  /** A disabled or deleted directory account loses its sessions within this many seconds (default 300). */
  recheckSeconds?: number | undefined;
}

export interface ServerConfig {
  host: string;
  port: number;
  /** Base URL browsers use to reach the server, without a trailing slash. */
  publicUrl: string;
  publicOrigin: string;
  /** No --public-url and port 0: the public URL is the address the server gets. */
  publicUrlFromListen: boolean;
  cookieName: string;
  cookieDomain?: string | undefined;
  secure: boolean;
  sessionTtlSeconds: number;
  redirect: boolean;
  trustedProxies: string[];
  viewsDir?: string | undefined;
  title: string;
  throttle: ThrottlePolicy;
  hashConcurrency: number;
  hashQueueLimit: number;
  /** Start even when passkeys were registered under another rpID (they stop working). */
  allowNewPasskeyDomain: boolean;
  /** `strict`: a user without a second factor cannot enrol one at a two_factor app's door (see src/sign-in/steps.ts). */
  enrolment: EnrolmentChoice;
  /** Operations: client addresses /metrics answers (default loopback). */
  metricsAllow: string[];
  /** The LDAP interface for apps (DESIGN §19), when configured. */
  ldap?: LdapInterfaceOptions | undefined;
  directory?: DirectoryConfig | undefined;
}

export interface ServerConfigInput {
  host?: string;
  port?: number;
  publicUrl?: string;
  cookieName?: string;
  cookieDomain?: string;
  sessionTtlSeconds?: number;
  redirect?: boolean;
  trustedProxies?: string[];
  viewsDir?: string;
  title?: string;
  throttle?: Partial<ThrottlePolicy>;
  hashConcurrency?: number;
  hashQueueLimit?: number;
  allowNewPasskeyDomain?: boolean;
  enrolment?: EnrolmentChoice;
  metricsAllow?: string[];
  ldap?: LdapInterfaceOptions | undefined;
  directory?: DirectoryConfig | undefined;
}

/** Fills defaults and checks values; throws a TypeError naming the bad option. */
export function resolveServerConfig(input: ServerConfigInput): ServerConfig {
  const host = input.host ?? "127.0.0.1";
  const port = input.port ?? 8081;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`--port ${port} is not a port number`);
  const hostForUrl = host.includes(":") ? `[${host}]` : host;
  const publicText = (input.publicUrl ?? `http://${hostForUrl}:${port}`).replace(/\/+$/, "");
  let publicUrl: URL;
  try {
    publicUrl = new URL(publicText);
  } catch {
    throw new TypeError(`--public-url "${publicText}" is not a URL`);
  }
  if (publicUrl.protocol !== "http:" && publicUrl.protocol !== "https:") {
    throw new TypeError("--public-url must start with http:// or https://");
  }
  if (publicUrl.search !== "" || publicUrl.hash !== "" || publicUrl.username !== "") {
    throw new TypeError("--public-url takes a scheme, host, port and optional path, nothing else");
  }
  const cookieName = input.cookieName ?? "ssoctl";
  if (!isValidCookieName(cookieName)) throw new TypeError(`--cookie-name "${cookieName}" is not a valid cookie name`);
  if (input.cookieDomain !== undefined && !isValidCookieDomain(input.cookieDomain)) {
    throw new TypeError(`--cookie-domain "${input.cookieDomain}" is not a domain name`);
  }
  const ttl = input.sessionTtlSeconds ?? 12 * 3600;
  if (!Number.isInteger(ttl) || ttl < 60) throw new TypeError("--session-ttl must be at least 60s");
  const title = input.title ?? "Single sign-on";
  if (title.length === 0 || title.length > 100) throw new TypeError("--title takes 1 to 100 characters");
  const trustedProxies = input.trustedProxies ?? LOOPBACK_CIDRS;
  // Checked here, with the other options, so a bad range is a usage error rather than a failed start.
  new TrustedProxies(trustedProxies);
  const hashConcurrency = input.hashConcurrency ?? 2;
  const hashQueueLimit = input.hashQueueLimit ?? 32;
  // With no worker a sign-in would wait forever.
  if (!Number.isInteger(hashConcurrency) || hashConcurrency < 1) throw new TypeError("--hash-concurrency must be at least 1");
  if (!Number.isInteger(hashQueueLimit) || hashQueueLimit < 0) throw new TypeError("--hash-queue must be a whole number");
  const metricsAllow = input.metricsAllow ?? LOOPBACK_CIDRS;
  try {
    new TrustedProxies(metricsAllow);
  } catch (error) {
    throw new TypeError((error as Error).message.replace("--trusted-proxy", "--metrics-allow"));
  }
  if (input.ldap !== undefined) checkLdapOptions(input.ldap);
  return {
    host,
    port,
    publicUrl: publicUrl.href.replace(/\/+$/, ""),
    publicOrigin: publicUrl.origin,
    publicUrlFromListen: input.publicUrl === undefined && port === 0,
    cookieName,
    cookieDomain: input.cookieDomain,
    secure: publicUrl.protocol === "https:",
    sessionTtlSeconds: ttl,
    redirect: input.redirect ?? true,
    trustedProxies,
    viewsDir: input.viewsDir,
    title,
    throttle: {
      user: { ...DEFAULT_THROTTLE.user, ...input.throttle?.user },
      addr: { ...DEFAULT_THROTTLE.addr, ...input.throttle?.addr },
      ipv6Prefix: input.throttle?.ipv6Prefix ?? DEFAULT_IPV6_PREFIX,
    },
    hashConcurrency,
    hashQueueLimit,
    allowNewPasskeyDomain: input.allowNewPasskeyDomain ?? false,
    enrolment: input.enrolment ?? "open",
    metricsAllow,
    ldap: input.ldap,
    directory: input.directory,
  };
}
