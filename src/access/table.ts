/**
 * Every app's policy and rules, indexed by origin: built once from the store's rows whenever
 * its change counter moves (the caches of the login server and forward auth), then asked per
 * request without I/O. Pure.
 */
import { decideAccess, OPEN_APP, type AccessDecision, type AccessRule, type AccessUser, type AppAccess } from "./decide.js";
import type { App, StoredRule } from "../store/store.js";

export interface AppEntry {
  app: App;
  access: AppAccess;
}

/** The path and query of an absolute URL exactly as written (not as a URL parser rewrites it). */
export function rawPathOf(url: string): string {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/s.exec(url);
  const rest = match?.[1] ?? "/";
  return rest === "" || !rest.startsWith("/") ? `/${rest}` : rest;
}

export class AccessTable {
  private readonly byOrigin = new Map<string, AppEntry>();
  /** Apps any signed-in user may use at any path with any method: one_factor, nobody named, no rules. */
  private readonly open = new Set<string>();

  constructor(apps: readonly App[], rules: readonly StoredRule[]) {
    const rulesByOrigin = new Map<string, AccessRule[]>();
    for (const rule of rules) {
      const list = rulesByOrigin.get(rule.origin) ?? [];
      list.push({ id: rule.id, path: rule.path, methods: rule.methods, policy: rule.policy, groups: rule.groups, users: rule.users });
      rulesByOrigin.set(rule.origin, list);
    }
    for (const app of apps) {
      const access: AppAccess = {
        policy: app.policy,
        groups: app.allowGroups,
        users: app.allowUsers,
        rules: rulesByOrigin.get(app.origin) ?? [],
      };
      this.byOrigin.set(app.origin, { app, access });
      if (access.policy === "one_factor" && access.groups.length === 0 && access.users.length === 0 && access.rules.length === 0) this.open.add(app.origin);
    }
  }

  /** Whether every signed-in user may use the app at `origin` whatever the path: the common case, answered without deciding. */
  isOpenToAnyLogin(origin: string): boolean {
    return this.open.has(origin);
  }

  /** The registered app an origin belongs to, or null (the login server's own origin is no app). */
  appFor(origin: string): AppEntry | null {
    return this.byOrigin.get(origin) ?? null;
  }

  /**
   * The decision for a request to `path` (as received: the decision normalises it) at `origin`
   * (a registered app's; any other is `deny`, failing closed). `user` null: nobody signed in.
   */
  decide(request: { user: AccessUser | null; amr: readonly string[]; method: string; origin: string; path: string }): AccessDecision & { app: App | null } {
    const entry = this.byOrigin.get(request.origin);
    if (entry === undefined) return { verdict: "deny", ruleId: null, policy: "deny", reason: "policy_deny", app: null };
    const decision = decideAccess({
      user: request.user,
      amr: request.amr,
      app: entry.access,
      method: request.method,
      path: request.path,
    });
    return { ...decision, app: entry.app };
  }
}

export { OPEN_APP };
