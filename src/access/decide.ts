/**
 * Who may use which app: the one decision every guard asks (the login server's SSO bounce and
 * sign-in, forward auth, `ssoctl protect --data-dir`, the Node guard, CAS and OIDC). Pure: the
 * app's policy and rules come in as values, so the same inputs give the same verdict everywhere.
 *
 * @example
 * const decision = decideAccess({ user: { username: "bob", groups: ["staff"] }, amr: ["pwd"],
 *   app, method: "GET", path: "/admin/users" });
 * if (decision.verdict !== "allow") …
 */
import { accessPath, pathCovers, withoutPathParameters } from "./path.js";

export const POLICIES = ["one_factor", "two_factor", "bypass", "deny"] as const;
export type Policy = (typeof POLICIES)[number];

/**
 * - `allow`: let the request through.
 * - `login`: nobody is signed in and the policy needs someone: send them to sign in.
 * - `second_factor`: signed in, allowed, but the policy wants a second factor not yet given.
 * - `forbidden`: signed in as someone this app or path does not admit (403; another user may be).
 * - `deny`: nobody may (policy `deny`; 403).
 */
export type Verdict = "allow" | "login" | "second_factor" | "forbidden" | "deny";

/** Who may use an app or a path: nothing named means everyone signed in. */
export interface Audience {
  groups: readonly string[];
  users: readonly string[];
}

export interface AccessRule extends Audience {
  id: number;
  /** Normalised (see `normalizeRulePath`): starts with `/`, no trailing slash except `/` itself. */
  path: string;
  /** Upper-case; empty means every method. */
  methods: readonly string[];
  /** Null: the app's own policy. */
  policy: Policy | null;
}

/** An app's policy, who may use it, and its path rules. */
export interface AppAccess extends Audience {
  policy: Policy;
  rules: readonly AccessRule[];
}

export interface AccessUser {
  username: string;
  groups: readonly string[];
}

export interface AccessRequest {
  /** The signed-in user, or null for nobody (an anonymous visitor counts as nobody). */
  user: AccessUser | null;
  /** The login's authentication methods (`amr`): `["pwd"]` after a password alone. */
  amr: readonly string[];
  app: AppAccess;
  method: string;
  /** The request's path (a query is ignored); normalised here. */
  path: string;
}

/** Why a request was not allowed, for the audit trail (`access.denied`). */
export type DenialReason = "policy_deny" | "not_signed_in" | "not_allowed" | "second_factor_required" | "login_server_target";

export interface AccessDecision {
  verdict: Verdict;
  /** The rule that decided, or null for the app's own policy. */
  ruleId: number | null;
  policy: Policy;
  reason: DenialReason | null;
}

/** Whether a login's methods include more than a password: anything besides `pwd` is a second factor. */
export function hasSecondFactor(amr: readonly string[]): boolean {
  return amr.some((method) => method !== "pwd");
}

/**
 * The rule for a method and path: the longest path covering it, and among those of equal
 * length one naming the method over one that does not. A rule naming `GET` also covers
 * `HEAD` (the same request without the body). Null: no rule, the app's own policy applies.
 */
export function matchRule(rules: readonly AccessRule[], method: string, path: string): AccessRule | null {
  const verb = method.toUpperCase();
  let best: AccessRule | null = null;
  let bestNamesMethod = false;
  for (const rule of rules) {
    const namesMethod = rule.methods.length > 0;
    if (namesMethod && !rule.methods.includes(verb) && !(verb === "HEAD" && rule.methods.includes("GET"))) continue;
    if (!pathCovers(rule.path, path)) continue;
    const better =
      best === null ||
      rule.path.length > best.path.length ||
      (rule.path.length === best.path.length && namesMethod && !bestNamesMethod);
    if (better) {
      best = rule;
      bestNamesMethod = namesMethod;
    }
  }
  return best;
}

/** Allowed = named, or in a named group, or nothing named. Usernames ignore case, as everywhere. */
export function isInAudience(audience: Audience, user: AccessUser): boolean {
  if (audience.users.length === 0 && audience.groups.length === 0) return true;
  const name = user.username.toLowerCase();
  if (audience.users.some((u) => u.toLowerCase() === name)) return true;
  return audience.groups.some((g) => user.groups.includes(g));
}

/**
 * The verdict for one request. A rule that names no policy takes the app's; a rule that names
 * nobody takes the app's audience (so a rule never opens a limited app to everyone by omission).
 * Order: `deny` → `bypass` → nobody signed in → not in the audience → second factor → allow; so a
 * user who may not use the app is told so, never asked for a second factor first.
 */
export function decideAccess(request: AccessRequest): AccessDecision {
  // Servers read an odd path differently (`/status//../admin` is `/status/admin` to a browser's URL
  // parser, `/admin` to one that merges slashes first; `/admin;x` is `/admin` to a servlet
  // container): every reading is judged, the strictest wins.
  return strictest(readingsOf(request.path).map((path) => decideForPath(request, path)));
}

const STRICTNESS: Record<Verdict, number> = { allow: 0, second_factor: 1, login: 2, forbidden: 3, deny: 4 };

/** The strictest of several decisions about one request (the first of equally strict ones). */
export function strictest<T extends AccessDecision>(decisions: readonly T[]): T {
  let found = decisions[0]!;
  for (const decision of decisions) if (STRICTNESS[decision.verdict] > STRICTNESS[found.verdict]) found = decision;
  return found;
}

/**
 * The normalised path; the one a WHATWG URL parser makes of it first, when that differs; and
 * each of those with its `;parameters` removed, when it has any.
 */
function readingsOf(path: string): string[] {
  const raw = [path];
  const end = path.search(/[?#]/);
  try {
    raw.push(new URL(`http://h${(end === -1 ? path : path.slice(0, end)).replace(/^(?!\/)/, "/")}`).pathname);
  } catch {
    // Not a path a URL parser reads: the direct reading stands alone.
  }
  for (const reading of raw.slice()) {
    const bare = withoutPathParameters(reading);
    if (bare !== null) raw.push(bare);
  }
  return [...new Set(raw.map(accessPath))];
}

function decideForPath(request: AccessRequest, path: string): AccessDecision {
  const { app } = request;
  const rule = matchRule(app.rules, request.method, path);
  const policy = rule?.policy ?? app.policy;
  const audience: Audience = rule !== null && (rule.users.length > 0 || rule.groups.length > 0) ? rule : app;
  const ruleId = rule?.id ?? null;
  const decision = (verdict: Verdict, reason: DenialReason | null): AccessDecision => ({ verdict, ruleId, policy, reason });
  if (policy === "deny") return decision("deny", "policy_deny");
  if (policy === "bypass") return decision("allow", null);
  if (request.user === null) return decision("login", "not_signed_in");
  if (!isInAudience(audience, request.user)) return decision("forbidden", "not_allowed");
  if (policy === "two_factor" && !hasSecondFactor(request.amr)) return decision("second_factor", "second_factor_required");
  return decision("allow", null);
}

/** An app with no limits and no rules: what every app was before access rules existed. */
export const OPEN_APP: AppAccess = { policy: "one_factor", groups: [], users: [], rules: [] };

export function isPolicy(text: string): text is Policy {
  return (POLICIES as readonly string[]).includes(text);
}
