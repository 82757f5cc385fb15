/**
 * What `user set`, `app add|set` (their access options) and `rule add|list|remove` do, as plain
 * functions over a Store: every input checked before anything is written, every change audited.
 */
import { SsoctlError, UsageError } from "../errors.js";
import { parseAppOrigin } from "../origin.js";
import { printable } from "../printable.js";
import { usernameProblem } from "../username.js";
import { ConflictError, type App, type AppAccessSettings, type NewRule, type Store, type StoredRule, type UserChanges } from "../store/store.js";
import { isPolicy, type Policy } from "./decide.js";
import { KNOWN_METHODS, isKnownMethod } from "./method.js";
import { normalizeRulePath } from "./path.js";

const GROUP = /^[A-Za-z0-9._:-]{1,64}$/;

export function parsePolicy(text: string): Policy {
  if (!isPolicy(text)) throw new UsageError(`unknown policy "${printable(text)}": use one_factor, two_factor, bypass or deny`);
  return text;
}

/** Group names as given to `--allow-group` (repeatable): each one checked, an empty one refused. */
export function parseGroups(values: readonly string[], option: string): string[] {
  for (const group of values) {
    if (group === "") throw new UsageError(`${option} needs a group name (it was empty)`);
    if (!GROUP.test(group)) throw new UsageError(`${option} "${printable(group)}": a group may contain only letters, digits, ".", "_", ":" and "-"`);
  }
  return [...new Set(values)];
}

/** Usernames as given to `--allow-user` (repeatable). They need not exist yet: a user added later is admitted. */
export function parseUsers(values: readonly string[], option: string): string[] {
  for (const user of values) {
    const problem = usernameProblem(user);
    if (problem !== null) throw new UsageError(`${option}: ${problem}`);
  }
  const seen = new Set<string>();
  return values.filter((u) => !seen.has(u.toLowerCase()) && seen.add(u.toLowerCase()));
}

/** Only methods requests really use: a rule naming `FETCH` would never match anything. */
export function parseMethods(values: readonly string[]): string[] {
  const methods = values.map((m) => m.toUpperCase());
  for (const method of methods) {
    if (!isKnownMethod(method)) throw new UsageError(`--method "${printable(method)}" is not an HTTP method; use one of ${KNOWN_METHODS.join(", ")}`);
  }
  return [...new Set(methods)];
}

/** The raw access options of `app add` / `app set`. */
export interface AccessOptions {
  policy?: string | undefined;
  allowGroup?: string[] | undefined;
  allowUser?: string[] | undefined;
  allowAny?: boolean | undefined;
}

/**
 * Access settings from the options: `--allow-group` / `--allow-user` given → the audience becomes
 * exactly those (both lists); `--allow-any` → nobody named (everyone signed in); neither → unchanged.
 */
export function parseAccessOptions(options: AccessOptions): AppAccessSettings {
  const groups = options.allowGroup ?? [];
  const users = options.allowUser ?? [];
  const naming = groups.length > 0 || users.length > 0;
  if (options.allowAny && naming) throw new UsageError("--allow-any admits everyone signed in; it cannot be combined with --allow-group or --allow-user");
  const settings: AppAccessSettings = {};
  if (options.policy !== undefined) settings.policy = parsePolicy(options.policy);
  if (naming) {
    settings.allowGroups = parseGroups(groups, "--allow-group");
    settings.allowUsers = parseUsers(users, "--allow-user");
  } else if (options.allowAny) {
    settings.allowGroups = [];
    settings.allowUsers = [];
  }
  return settings;
}

/** `ssoctl user set`: only the given fields change; at least one must be given. */
export async function setUser(store: Store, username: string, changes: UserChanges, now: number): Promise<void> {
  if (changes.name === undefined && changes.email === undefined && changes.groups === undefined) {
    throw new UsageError("nothing to change: give --name, --email or --groups");
  }
  const user = await store.getUser(username);
  if (user === null) throw new SsoctlError(`no user named "${printable(username)}" (see \`ssoctl user list\`)`);
  await store.updateUser(user.username, changes);
  await store.audit({ at: now, event: "user.changed", username: user.username, detail: { fields: Object.keys(changes).filter((k) => changes[k as keyof UserChanges] !== undefined) } });
}

/** The origin for a URL argument, or the text itself (an app's name). */
function appKey(urlOrName: string): string {
  const parsed = parseAppOrigin(urlOrName);
  return "origin" in parsed ? parsed.origin : urlOrName;
}

function noSuchApp(urlOrName: string): SsoctlError {
  return new SsoctlError(`no app registered as "${printable(urlOrName)}" (see \`ssoctl app list\`)`);
}

/** `ssoctl app set URL|NAME`: a new name and/or new access settings. */
export async function setApp(store: Store, urlOrName: string, changes: { name?: string | undefined } & AppAccessSettings, now: number): Promise<App> {
  if (changes.name !== undefined && (changes.name === "" || changes.name.length > 100 || /[\x00-\x1f\x7f]/.test(changes.name))) {
    throw new UsageError("--name takes 1 to 100 characters and no control characters");
  }
  if (Object.values(changes).every((v) => v === undefined)) {
    throw new UsageError("nothing to change: give --name, --policy, --allow-group, --allow-user or --allow-any");
  }
  let app: App | null;
  try {
    app = await store.updateApp(appKey(urlOrName), changes);
  } catch (error) {
    if (error instanceof ConflictError) throw new SsoctlError(error.message);
    throw error;
  }
  if (app === null) throw noSuchApp(urlOrName);
  await store.audit({
    at: now,
    event: "app.changed",
    detail: { origin: app.origin, name: app.name, policy: app.policy, allowGroups: app.allowGroups, allowUsers: app.allowUsers },
  });
  return app;
}

/** The raw options of `rule add`. */
export interface RuleOptions {
  path?: string | undefined;
  method?: string[] | undefined;
  policy?: string | undefined;
  allowGroup?: string[] | undefined;
  allowUser?: string[] | undefined;
}

export function parseRule(options: RuleOptions): NewRule {
  if (options.path === undefined) throw new UsageError("rule add needs --path /PREFIX");
  const path = normalizeRulePath(options.path);
  if (path === null) throw new UsageError(`--path "${printable(options.path)}" must be a path starting with "/" (no query, no control characters)`);
  return {
    path,
    methods: parseMethods(options.method ?? []),
    policy: options.policy === undefined ? null : parsePolicy(options.policy),
    groups: parseGroups(options.allowGroup ?? [], "--allow-group"),
    users: parseUsers(options.allowUser ?? [], "--allow-user"),
  };
}

export async function addRule(store: Store, urlOrName: string, rule: NewRule, now: number): Promise<StoredRule> {
  const added = await store.addRule(appKey(urlOrName), rule, now);
  if (added === null) throw noSuchApp(urlOrName);
  await store.audit({ at: now, event: "rule.added", detail: ruleDetail(added) });
  return added;
}

export async function listRules(store: Store, urlOrName: string | undefined): Promise<StoredRule[]> {
  if (urlOrName === undefined) return store.listRules();
  const key = appKey(urlOrName);
  const apps = await store.listApps();
  if (!apps.some((a) => a.origin === key || a.name.toLowerCase() === key.toLowerCase())) throw noSuchApp(urlOrName);
  return store.listRules(key);
}

export function parseRuleId(text: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new UsageError(`"${printable(text)}" is not a rule id (see \`ssoctl rule list\`)`);
  return Number(text);
}

export async function removeRule(store: Store, id: number, now: number): Promise<StoredRule> {
  const removed = await store.removeRule(id);
  if (removed === null) throw new SsoctlError(`no rule with id ${id} (see \`ssoctl rule list\`)`);
  await store.audit({ at: now, event: "rule.removed", detail: ruleDetail(removed) });
  return removed;
}

function ruleDetail(rule: StoredRule): Record<string, unknown> {
  return { id: rule.id, app: rule.origin, path: rule.path, methods: rule.methods, policy: rule.policy, groups: rule.groups, users: rule.users };
}

/** "everyone signed in", or the groups and users named, for listings. */
export function audienceText(audience: { groups: readonly string[]; users: readonly string[] }): string {
  if (audience.groups.length === 0 && audience.users.length === 0) return "anyone";
  return [...audience.groups.map((g) => `group:${g}`), ...audience.users.map((u) => `user:${u}`)].join(",");
}
