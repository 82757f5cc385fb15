/**
 * What SIGHUP changes in a running login server: the settings that can change without a restart
 * (trusted proxies, /metrics addresses, sign-in throttling) are put in place; any other setting
 * that differs is named, so the log says a restart is needed for it.
 */
import type { LoginServer } from "./app.js";
import type { ServerConfig } from "./config.js";

/** The config keys of the ServerConfig fields, for messages. */
const KEYS: Partial<Record<keyof ServerConfig, string>> = {
  host: "server.host",
  port: "server.port",
  publicUrl: "server.public_url",
  cookieName: "server.cookie_name",
  cookieDomain: "server.cookie_domain",
  sessionTtlSeconds: "server.session_ttl",
  redirect: "server.redirect",
  viewsDir: "server.views",
  title: "server.title",
  hashConcurrency: "server.hash_concurrency",
  hashQueueLimit: "server.hash_queue",
  allowNewPasskeyDomain: "server.allow_new_passkey_domain",
  enrolment: "server.strict_enrolment",
};

const LIVE = new Set<keyof ServerConfig>(["trustedProxies", "metricsAllow", "throttle"]);
/** Derived from others, or set at listen time. */
const IGNORED = new Set<keyof ServerConfig>(["publicOrigin", "publicUrlFromListen", "secure"]);

export interface Reloaded {
  /** Settings now in effect. */
  changed: string[];
  /** Settings that differ but take effect only after a restart. */
  needsRestart: string[];
}

/** Puts `next`'s live settings into the running server; `current` is what it started (or was last reloaded) with. */
export function reloadServer(server: LoginServer, current: ServerConfig, next: ServerConfig): Reloaded {
  const changed: string[] = [];
  const needsRestart: string[] = [];
  for (const key of Object.keys(next) as Array<keyof ServerConfig>) {
    if (IGNORED.has(key) || LIVE.has(key)) continue;
    if (JSON.stringify(current[key]) !== JSON.stringify(next[key])) needsRestart.push(KEYS[key] ?? key);
  }
  if (JSON.stringify(current.trustedProxies) !== JSON.stringify(next.trustedProxies)) {
    server.context.proxies.replace(next.trustedProxies);
    changed.push("server.trusted_proxy");
  }
  if (JSON.stringify(current.metricsAllow) !== JSON.stringify(next.metricsAllow)) {
    server.metricsAllow.replace(next.metricsAllow);
    changed.push("server.metrics_allow");
  }
  if (JSON.stringify(current.throttle) !== JSON.stringify(next.throttle)) {
    // The sign-in code and the routes hold this same object: changed in place, it is in effect at once.
    const throttle = server.context.config.throttle;
    Object.assign(throttle.user, next.throttle.user);
    Object.assign(throttle.addr, next.throttle.addr);
    throttle.ipv6Prefix = next.throttle.ipv6Prefix;
    changed.push("server.max_user_failures / max_addr_failures / ipv6_prefix / failure_window / lockout");
  }
  return { changed, needsRestart };
}
