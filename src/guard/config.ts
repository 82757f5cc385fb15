/**
 * The guard's options, checked once when a guard is created and turned into
 * ready-made strings, so a request never re-reads or re-validates them.
 * Every mistake is a TypeError at start-up, never at the first request.
 */
import { clearCookieHeader, isValidCookieDomain, isValidCookieName, type CookieOptions } from "../cookie.js";
import { parseAppOrigin } from "../origin.js";
import { VerifiedTokenCache, type LoginClaims } from "../token.js";
import { usernameProblem } from "../username.js";
import { htmlPage, type GuardResponse } from "./response.js";
import type { AccessUser, AppAccess } from "../access/decide.js";

/** Options of {@link loginRedirect}; the names follow WebStack's `LoginRedirectResource`. */
export interface LoginRedirectOptions {
  /** The login server's login page, e.g. `"https://login.example.com/login"`. */
  loginUrl: string;
  /** This application's origin (scheme, host, port), e.g. `"https://app.example.com"`. */
  appUrl: string;
  /** The key as `ssoctl key show` prints it; an array during rotation: the first signs, all verify. */
  secretKey: string | readonly string[];
  /** Must match the login server's `--cookie-name`. Default `"ssoctl"`. */
  cookieName?: string | undefined;
  /** Must match the login server's `--cookie-domain`. Default: none (host-only cookie). */
  cookieDomain?: string | undefined;
  /** A query parameter that grants anonymous access, e.g. `"anonymous"`. Default: none. */
  anonymousParameterName?: string | undefined;
  /** The username anonymous visitors get. Default `"anonymous"`. */
  anonymousUsername?: string | undefined;
  /** A query parameter that logs out, e.g. `"logout"`. Default: none. */
  logoutParameterName?: string | undefined;
  /** Where the browser lands after logging out, resolved against `appUrl`. Default `"/"`. */
  logoutUrl?: string | undefined;
  /** `false`: answer a logout with a page holding a link instead of a redirect. Default `true`. */
  useLogoutRedirect?: boolean | undefined;
  /** Lifetime of anonymous tokens in seconds. Default 12 hours. */
  sessionTtlSeconds?: number | undefined;
  /** The cookie's `Secure` flag. Default: whether `appUrl` is https. */
  secure?: boolean | undefined;
  // Access rules: checked in-process from the token, so as fresh as the token
  /** Only members of these groups (or the users in `allowUsers`) get in; others get a 403 page. Default: anyone signed in. */
  allowGroups?: readonly string[] | undefined;
  /** Only these users (or members of `allowGroups`) get in. */
  allowUsers?: readonly string[] | undefined;
  /** Only logins that passed a second factor get in; others are sent to the login server for it. Default false. */
  twoFactor?: boolean | undefined;
}

/** Who the guard let through, set as `req.user`. */
export interface GuardUser {
  name: string;
  anonymous: boolean;
}

/** Decides whether a verified sign-in is still a login (its session live and its own, its user enabled, its issuer right). */
export type SessionChecker = (claims: LoginClaims) => Promise<boolean>;

/** What callers inside ssoctl (the protect proxy) add to the public options. */
export interface GuardExtras {
  /** The verifying keys, read per request; replaces `secretKey` after it was checked. A new array whenever the set changes. */
  keys?: (() => readonly string[]) | undefined;
  /** The key that signs anonymous tokens, read when one is made; default: the first of `keys`. */
  signingKey?: (() => Promise<string>) | undefined;
  /** Looks for a newer key when a token names one not in `keys` (a rotation not noticed yet); resolves to the keys now. */
  refreshKeys?: (() => Promise<readonly string[]>) | undefined;
  /** Checked for non-anonymous tokens; false (or a throw) counts as no login. */
  checkSession?: SessionChecker | undefined;
  /**
   * Access rules from the database (`protect --data-dir`): this app's policy, audience and
   * rules, in place of the options'; null when the app is not registered (then nobody gets in).
   */
  appAccess?: (() => Promise<AppAccess | null>) | undefined;
  /** With `appAccess`: the user's groups as the database has them now; null for a user who is gone. */
  accessUser?: ((username: string) => Promise<AccessUser | null>) | undefined;
}

/** Everything a request needs, computed once. */
export interface GuardConfig {
  readonly keys: () => readonly string[];
  readonly signingKey: (() => Promise<string>) | undefined;
  readonly refreshKeys: (() => Promise<readonly string[]>) | undefined;
  readonly cache: VerifiedTokenCache;
  readonly cookie: CookieOptions;
  readonly clearCookie: string;
  /** `loginUrl?app=<appUrl>&path=`: a request adds its path and `&qs=`. */
  readonly loginPrefix: string;
  readonly anonymousParameter: string | undefined;
  readonly logoutParameter: string | undefined;
  readonly anonymousUsername: string;
  readonly sessionTtlSeconds: number;
  /** This app's origin: the `aud` of the anonymous tokens it makes, and the only one it accepts. */
  readonly appOrigin: string;
  /** The login server's public URL as `loginUrl` implies it: the `iss` of anonymous tokens. */
  readonly issuer: string;
  /** The answer to a logout request with a signed-in token: hand over to the login server's logout. */
  readonly logoutHandoff: GuardResponse;
  /** The answer to a logout request without one (anonymous, expired, none): clear the cookie here too. */
  readonly logoutResponse: GuardResponse;
  readonly checkSession: SessionChecker | undefined;
  /** Access rules: this app's policy and rules (null: not registered, nobody gets in). */
  readonly appAccess: () => AppAccess | null | Promise<AppAccess | null>;
  /** The user as access rules see them; default: the name and groups the token carries. */
  readonly accessUser: ((username: string) => Promise<AccessUser | null>) | undefined;
  /** The login server's logout: `?rd=` the login page for the same request signs in as someone else. */
  readonly logoutBase: string;
}

const DEFAULT_TTL_SECONDS = 12 * 3600;
const MAX_TTL_SECONDS = 400 * 86400;
const KEY = /^[A-Za-z0-9_-]{43,}$/;
const KNOWN_OPTIONS = new Set([
  "loginUrl",
  "appUrl",
  "secretKey",
  "cookieName",
  "cookieDomain",
  "anonymousParameterName",
  "anonymousUsername",
  "logoutParameterName",
  "logoutUrl",
  "useLogoutRedirect",
  "sessionTtlSeconds",
  "secure",
  "allowGroups",
  "allowUsers",
  "twoFactor",
]);
const LIKELY_MEANT: Record<string, string> = {
  anonymousParameter: "anonymousParameterName",
  logoutParameter: "logoutParameterName",
  secret: "secretKey",
  secretKeys: "secretKey",
  key: "secretKey",
  loginURL: "loginUrl",
  appURL: "appUrl",
};

/** Checks the options and precomputes every string a request needs. Throws a TypeError on any mistake. */
export function resolveGuardConfig(options: LoginRedirectOptions, extras: GuardExtras = {}): GuardConfig {
  if (typeof options !== "object" || options === null) {
    throw problem("loginRedirect() needs an options object with loginUrl, appUrl and secretKey");
  }
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) {
      const hint = LIKELY_MEANT[name] === undefined ? "" : ` (did you mean ${LIKELY_MEANT[name]}?)`;
      throw problem(`unknown option ${JSON.stringify(name)}${hint}`);
    }
  }

  const loginUrl = checkLoginUrl(options.loginUrl);
  const appOrigin = checkAppUrl(options.appUrl);
  const secrets = checkSecretKey(options.secretKey);

  const cookieName = options.cookieName ?? "ssoctl";
  if (typeof cookieName !== "string" || !isValidCookieName(cookieName)) {
    throw problem(`cookieName ${JSON.stringify(cookieName)} is not a valid cookie name (letters, digits and !#$%&'*+.^_\`|~-, at most 64)`);
  }
  const cookieDomain = options.cookieDomain;
  if (cookieDomain !== undefined && (typeof cookieDomain !== "string" || !isValidCookieDomain(cookieDomain))) {
    throw problem(`cookieDomain ${JSON.stringify(cookieDomain)} is not a domain name like example.com`);
  }
  const secure = options.secure ?? appOrigin.startsWith("https:");
  if (typeof secure !== "boolean") throw problem("secure must be true or false");
  const cookie: CookieOptions = { name: cookieName, domain: cookieDomain, secure };

  const anonymousParameter = checkParameterName("anonymousParameterName", options.anonymousParameterName);
  const logoutParameter = checkParameterName("logoutParameterName", options.logoutParameterName);
  if (anonymousParameter !== undefined && anonymousParameter === logoutParameter) {
    throw problem("anonymousParameterName and logoutParameterName must differ");
  }

  const anonymousUsername = options.anonymousUsername ?? "anonymous";
  const usernameIssue = typeof anonymousUsername === "string" ? usernameProblem(anonymousUsername) : "it must be a string";
  if (usernameIssue !== null) throw problem(`anonymousUsername: ${usernameIssue}`);

  const ttl = options.sessionTtlSeconds ?? DEFAULT_TTL_SECONDS;
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_SECONDS) {
    throw problem(`sessionTtlSeconds must be a whole number of seconds between 1 and ${MAX_TTL_SECONDS}`);
  }

  const useLogoutRedirect = options.useLogoutRedirect ?? true;
  if (typeof useLogoutRedirect !== "boolean") throw problem("useLogoutRedirect must be true or false");
  const logoutTarget = checkLogoutUrl(options.logoutUrl ?? "/", appOrigin);
  const logoutLocation = `${new URL("logout", loginUrl).href}?rd=${encodeURIComponent(logoutTarget)}`;
  const clearCookie = clearCookieHeader(cookie);
  // A signed-in browser keeps its cookie until the login server has ended the
  // session in its database and cleared the cookie itself (same name, domain,
  // path); clearing it here first would leave that session live.
  const logoutResponse = (options: { clear: boolean }): GuardResponse =>
    useLogoutRedirect
      ? {
          status: 302,
          headers: { location: logoutLocation, "cache-control": "no-store", ...(options.clear ? { "set-cookie": clearCookie } : {}) },
          body: "",
        }
      : htmlPage({
          status: 200,
          title: "Sign out",
          text: options.clear
            ? "You are signed out of this application. To sign out of every application, continue to the login server:"
            : "To sign out of this and every other application, continue to the login server:",
          href: logoutLocation,
          linkText: "Sign out everywhere",
          setCookie: options.clear ? clearCookie : undefined,
        });

  const ownAccess = checkAccessOptions(options);
  const fixedKeys: readonly string[] = secrets;
  return {
    keys: extras.keys ?? (() => fixedKeys),
    signingKey: extras.signingKey,
    refreshKeys: extras.refreshKeys,
    cache: new VerifiedTokenCache(),
    cookie,
    clearCookie,
    loginPrefix: `${loginUrl.href}${loginUrl.search === "" ? "?" : "&"}app=${encodeURIComponent(appOrigin)}&path=`,
    anonymousParameter,
    logoutParameter,
    anonymousUsername,
    sessionTtlSeconds: ttl,
    appOrigin,
    issuer: issuerOf(loginUrl),
    logoutHandoff: logoutResponse({ clear: false }),
    logoutResponse: logoutResponse({ clear: true }),
    checkSession: extras.checkSession,
    appAccess: extras.appAccess ?? (() => ownAccess),
    accessUser: extras.accessUser,
    logoutBase: new URL("logout", loginUrl).href,
  };
}

/** `allowGroups`, `allowUsers`, `twoFactor` as the one decision's app (no path rules in-process). */
function checkAccessOptions(options: LoginRedirectOptions): AppAccess {
  const list = (name: "allowGroups" | "allowUsers", valid: (item: string) => boolean, what: string): string[] => {
    const value = options[name];
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw problem(`${name} must be an array of ${what}`);
    for (const item of value) {
      if (typeof item !== "string" || !valid(item)) throw problem(`${name}: ${JSON.stringify(item)} is not a ${what.replace(/s$/, "")}`);
    }
    return [...value] as string[];
  };
  const groups = list("allowGroups", (g) => /^[A-Za-z0-9._:-]{1,64}$/.test(g), "group names");
  const users = list("allowUsers", (u) => usernameProblem(u) === null, "usernames");
  const twoFactor = options.twoFactor ?? false;
  if (typeof twoFactor !== "boolean") throw problem("twoFactor must be true or false");
  return { policy: twoFactor ? "two_factor" : "one_factor", groups, users, rules: [] };
}

/** An absolute http(s) URL without user name, password or fragment; null when fine, else what is wrong. */
export function httpUrlProblem(text: unknown): string | null {
  if (typeof text !== "string" || text === "") return "is required";
  if (/[\x00-\x20\x7f\\]/.test(text)) return `${JSON.stringify(text)} is not a URL (spaces, control characters and backslashes are not allowed)`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${JSON.stringify(text)} is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `${JSON.stringify(text)} is not an http:// or https:// URL`;
  if (url.username !== "" || url.password !== "") return `${JSON.stringify(text)} must not contain a user name or password`;
  if (url.hash !== "") return `${JSON.stringify(text)} must not contain a #fragment`;
  return null;
}

/** The app's origin; a path, query or fragment is refused rather than silently dropped. */
export function appUrlProblem(text: unknown): string | null {
  const issue = httpUrlProblem(text);
  if (issue !== null) return issue;
  const url = new URL(text as string);
  if (url.pathname !== "/" || url.search !== "") {
    return `${JSON.stringify(text)} must be an origin only (scheme, host and port, like https://app.example.com)`;
  }
  return null;
}

/**
 * The login server's public URL, which it puts in `iss`, from its login page's URL: the page is
 * `<public URL>/login`, so `https://example.com/sso/login` → `https://example.com/sso`.
 */
export function issuerOf(loginUrl: URL): string {
  return loginUrl.origin + loginUrl.pathname.replace(/\/login\/?$/, "").replace(/\/+$/, "");
}

function checkLoginUrl(text: unknown): URL {
  const issue = httpUrlProblem(text);
  if (issue !== null) throw problem(`loginUrl ${issue} (the login page, like https://login.example.com/login)`);
  return new URL(text as string);
}

function checkAppUrl(text: unknown): string {
  const issue = appUrlProblem(text);
  if (issue !== null) throw problem(`appUrl ${issue} (this application's origin, like https://app.example.com)`);
  const parsed = parseAppOrigin(text as string);
  if ("problem" in parsed) throw problem(`appUrl: ${parsed.problem}`);
  return parsed.origin;
}

function checkSecretKey(value: unknown): string[] {
  if (value === undefined || value === null || value === "") {
    throw problem("secretKey is required (the text `ssoctl key show` prints)");
  }
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw problem("secretKey is an empty array; give at least one key");
  return list.map((key, index) => {
    const where = Array.isArray(value) ? `secretKey[${index}]` : "secretKey";
    if (typeof key !== "string") throw problem(`${where} must be a string`);
    // A key read from secret.key keeps its newline; the login server uses the trimmed text.
    const trimmed = key.trim();
    if (trimmed === "") throw problem(`${where} is empty`);
    if (!KEY.test(trimmed)) {
      throw problem(`${where} is not a key as \`ssoctl key show\` prints it (at least 43 characters of A-Z a-z 0-9 _ -)`);
    }
    return trimmed;
  });
}

function checkParameterName(option: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > 128) {
    throw problem(`${option} must be a non-empty query parameter name of at most 128 characters`);
  }
  return value;
}

function checkLogoutUrl(text: unknown, appOrigin: string): string {
  if (typeof text !== "string" || text === "") throw problem("logoutUrl must be a URL or a path like /");
  let url: URL;
  try {
    url = new URL(text, appOrigin);
  } catch {
    throw problem(`logoutUrl ${JSON.stringify(text)} is not a URL or path`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw problem(`logoutUrl ${JSON.stringify(text)} is not an http:// or https:// URL`);
  }
  return url.href;
}

function problem(message: string): TypeError {
  return new TypeError(`ssoctl guard: ${message}`);
}
