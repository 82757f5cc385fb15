/**
 * The desired-state sections: for each, the shape of its entries in a state file, the checks
 * (the same functions the single-change commands call), the plan of changes from what the
 * database holds, and the export. A change runs through the CLI's own write functions, which
 * audit it. Adding a section (`saml_sps`) is one more handler in SECTION_HANDLERS and its name
 * in names.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { parseGroups, parsePolicy, parseRule, parseUsers, removeRule, addRule, setApp, setUser } from "../access/admin.js";
import { addApp, addUser, checkNewUsername, parseProfile, removeApp, removeUser, setUserDisabled } from "../admin.js";
import { describeFsError } from "../data-dir.js";
import { SsoctlError } from "../errors.js";
import { issueInvitation } from "../factors/invitations.js";
import { parseAppOrigin } from "../origin.js";
import { addClient, checkClientId, checkClientName, checkClientUri, checkSuppliedSecret, hashClientSecret, removeClient } from "../protocols/oidc/clients.js";
import type { Policy } from "../access/decide.js";
import type { NewRule, OidcClient, Store } from "../store/store.js";
import type { StateSectionName } from "./names.js";

/** A problem in one entry: its path in the file (for the line) and what is wrong. */
export class EntryProblem extends Error {
  constructor(
    readonly path: Array<string | number>,
    message: string,
  ) {
    super(message);
  }
}

export interface ApplyOptions {
  prune: boolean;
  pruneUsers: boolean;
  /** How long a new user's invitation link works. */
  invitationTtl: number;
  /** Put in front of invitation paths, when known. */
  publicUrl?: string | undefined;
}

/** One change of the plan: its line in the diff, and the write (through the CLI's functions). */
export interface Change {
  text: string;
  run(store: Store, now: number, notes: string[]): Promise<void>;
}

export interface ParseContext {
  /** Where a relative `secret_file` is: the state file's directory. */
  baseDir: string;
  env: NodeJS.ProcessEnv;
}

/** Everything the file says, parsed, by section (absent sections are left alone). */
export type Desired = { [K in StateSectionName]?: unknown[] };

export interface SectionHandler<T> {
  /** One entry's shape; unknown keys are errors. */
  entry: z.ZodType;
  /** The entry, checked with the commands' own checks; throws EntryProblem (path relative to the entry). */
  parse(raw: any, context: ParseContext): T;
  /** The key two entries may not share (case-insensitively), and its field. */
  identity(entry: T): { key: string; field: string };
  plan(desired: T[], store: Store, options: ApplyOptions, all: Desired): Promise<Change[]>;
  /** The database's entries, in the file's shape, in a stable order. */
  export(store: Store): Promise<unknown[]>;
}

/** Wraps a command's check so its message points at the entry's field. */
function at<T>(path: Array<string | number>, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof SsoctlError) throw new EntryProblem(path, error.message);
    throw error;
  }
}

const names = z.array(z.string());
const policyText = z.enum(["one_factor", "two_factor", "bypass", "deny"]);

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function showList(list: readonly string[]): string {
  return `[${list.join(", ")}]`;
}

/** What is left to prune, in a stable order whatever order the engine listed it in. */
function inKeyOrder<T>(map: ReadonlyMap<string, T>): T[] {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, value]) => value);
}

function sorted(list: readonly string[]): string[] {
  return [...list].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

interface DesiredUser {
  username: string;
  name: string;
  email: string;
  groups: string[];
  disabled: boolean;
}

const users: SectionHandler<DesiredUser> = {
  entry: z.strictObject({
    name: z.string(),
    display_name: z.string().optional(),
    email: z.string().optional(),
    groups: names.optional(),
    disabled: z.boolean().optional(),
  }),
  parse(raw) {
    at(["name"], () => checkNewUsername(raw.name));
    for (const [i, group] of ((raw.groups ?? []) as string[]).entries()) {
      if (group.includes(",")) throw new EntryProblem(["groups", i], `group "${group}" may contain only letters, digits, ".", "_", ":" and "-"`);
    }
    const profile = at(["groups"], () => parseProfile({ name: raw.display_name, email: raw.email, groups: (raw.groups ?? []).join(",") }));
    return { username: raw.name, name: profile.name, email: profile.email, groups: sorted(profile.groups), disabled: raw.disabled ?? false };
  },
  identity: (user) => ({ key: user.username.toLowerCase(), field: "name" }),
  async plan(desired, store, options) {
    const current = new Map((await store.listUsers()).map((u) => [u.username.toLowerCase(), u]));
    const changes: Change[] = [];
    for (const want of desired) {
      const have = current.get(want.username.toLowerCase());
      current.delete(want.username.toLowerCase());
      if (have === undefined) {
        changes.push({
          text: `+ user ${want.username}${want.disabled ? " (disabled)" : ""}`,
          run: async (tx, now, notes) => {
            const user = await addUser(tx, { username: want.username, passwordHash: "", profile: { name: want.name, email: want.email, groups: want.groups } }, now);
            if (want.disabled) {
              await setUserDisabled(tx, user.username, { disabled: true }, now);
              return;
            }
            const issued = await issueInvitation(tx, user, options.invitationTtl, now);
            await tx.audit({ at: now, event: "user.invited", username: user.username, detail: { expiresAt: issued.expiresAt } });
            notes.push(`Send ${user.username} this link to set a password (it works once): ${(options.publicUrl ?? "").replace(/\/+$/, "")}${issued.path}`);
          },
        });
        continue;
      }
      const fields: string[] = [];
      if (have.name !== want.name) fields.push(`display_name "${have.name}" → "${want.name}"`);
      if (have.email !== want.email) fields.push(`email "${have.email}" → "${want.email}"`);
      if (!sameList(sorted(have.groups), want.groups)) fields.push(`groups ${showList(sorted(have.groups))} → ${showList(want.groups)}`);
      if (fields.length > 0) {
        changes.push({
          text: `~ user ${have.username}: ${fields.join(", ")}`,
          run: (tx, now) => setUser(tx, have.username, { name: want.name, email: want.email, groups: want.groups }, now),
        });
      }
      if (have.disabled !== want.disabled) {
        changes.push({
          text: `~ user ${have.username}: ${want.disabled ? "enabled → disabled" : "disabled → enabled"}`,
          run: async (tx, now) => void (await setUserDisabled(tx, have.username, { disabled: want.disabled }, now)),
        });
      }
    }
    if (options.pruneUsers) {
      for (const have of inKeyOrder(current)) {
        changes.push({ text: `- user ${have.username}`, run: async (tx, now) => void (await removeUser(tx, have.username, now)) });
      }
    }
    return changes;
  },
  async export(store) {
    const list = (await store.listUsers()).sort((a, b) => (a.username.toLowerCase() < b.username.toLowerCase() ? -1 : 1));
    return list.map((u) => ({ name: u.username, display_name: u.name, email: u.email, groups: sorted(u.groups), disabled: u.disabled }));
  },
};

interface DesiredApp {
  name: string;
  origin: string;
  policy: Policy;
  allowGroups: string[];
  allowUsers: string[];
  rules: NewRule[];
}

function ruleKey(rule: { path: string; methods: readonly string[] }): string {
  return `${rule.path} ${sorted(rule.methods).join(",")}`;
}

function ruleText(app: string, rule: { path: string; methods: readonly string[] }): string {
  return `${app} ${rule.path}${rule.methods.length > 0 ? ` ${rule.methods.join(",")}` : ""}`;
}

const apps: SectionHandler<DesiredApp> = {
  entry: z.strictObject({
    name: z.string(),
    url: z.string(),
    policy: policyText.optional(),
    allow_groups: names.optional(),
    allow_users: names.optional(),
    rules: z
      .array(
        z.strictObject({
          path: z.string(),
          methods: names.optional(),
          policy: policyText.optional(),
          allow_groups: names.optional(),
          allow_users: names.optional(),
        }),
      )
      .optional(),
  }),
  parse(raw) {
    const parsed = parseAppOrigin(raw.url);
    if ("problem" in parsed) throw new EntryProblem(["url"], parsed.problem);
    const url = new URL(raw.url);
    // `app add` drops a path with a note; a file that names one means something it will not get.
    if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
      throw new EntryProblem(["url"], `"${raw.url}" has a path; apps are registered by origin (scheme, host, port): write ${parsed.origin}, and a path as one of its rules`);
    }
    if (raw.name === "" || raw.name.length > 100 || /[\x00-\x1f\x7f]/.test(raw.name)) throw new EntryProblem(["name"], "an app's name takes 1 to 100 characters and no control characters");
    const rules = ((raw.rules ?? []) as any[]).map((rule, i) =>
      at(["rules", i], () => {
        const made = parseRule({ path: rule.path, method: rule.methods, policy: rule.policy, allowGroup: rule.allow_groups, allowUser: rule.allow_users });
        return { ...made, methods: sorted(made.methods), groups: sorted(made.groups), users: sorted(made.users) };
      }),
    );
    const seen = new Set<string>();
    for (const [i, rule] of rules.entries()) {
      if (seen.has(ruleKey(rule))) throw new EntryProblem(["rules", i], `a second rule for ${ruleText(raw.name, rule)}; merge the two`);
      seen.add(ruleKey(rule));
    }
    return {
      name: raw.name,
      origin: parsed.origin,
      policy: raw.policy === undefined ? "one_factor" : at(["policy"], () => parsePolicy(raw.policy)),
      allowGroups: sorted(at(["allow_groups"], () => parseGroups(raw.allow_groups ?? [], "allow_groups"))),
      allowUsers: sorted(at(["allow_users"], () => parseUsers(raw.allow_users ?? [], "allow_users"))),
      rules,
    };
  },
  identity: (app) => ({ key: app.origin, field: "url" }),
  async plan(desired, store, options) {
    const current = new Map((await store.listApps()).map((a) => [a.origin, a]));
    const rules = await store.listRules();
    const changes: Change[] = [];
    for (const want of desired) {
      const have = current.get(want.origin);
      current.delete(want.origin);
      if (have === undefined) {
        changes.push({
          text: `+ app ${want.name} (${want.origin})`,
          run: async (tx, now) =>
            void (await addApp(tx, { url: want.origin, name: want.name, access: { policy: want.policy, allowGroups: want.allowGroups, allowUsers: want.allowUsers } }, now)),
        });
      } else {
        const fields: string[] = [];
        if (have.name !== want.name) fields.push(`name "${have.name}" → "${want.name}"`);
        if (have.policy !== want.policy) fields.push(`policy ${have.policy} → ${want.policy}`);
        if (!sameList(sorted(have.allowGroups), want.allowGroups)) fields.push(`allow_groups ${showList(sorted(have.allowGroups))} → ${showList(want.allowGroups)}`);
        if (!sameList(sorted(have.allowUsers), want.allowUsers)) fields.push(`allow_users ${showList(sorted(have.allowUsers))} → ${showList(want.allowUsers)}`);
        if (fields.length > 0) {
          changes.push({
            text: `~ app ${have.name}: ${fields.join(", ")}`,
            run: async (tx, now) => void (await setApp(tx, want.origin, { name: want.name, policy: want.policy, allowGroups: want.allowGroups, allowUsers: want.allowUsers }, now)),
          });
        }
      }
      const stored = new Map(rules.filter((r) => r.origin === want.origin).map((r) => [ruleKey(r), r]));
      for (const rule of want.rules) {
        const old = stored.get(ruleKey(rule));
        stored.delete(ruleKey(rule));
        const same = old !== undefined && old.policy === rule.policy && sameList(sorted(old.groups), rule.groups) && sameList(sorted(old.users), rule.users);
        if (same) continue;
        const replace = old === undefined ? null : old.id;
        changes.push({
          text: old === undefined ? `+ rule ${ruleText(want.name, rule)}` : `~ rule ${old.id} (${ruleText(want.name, rule)}): ${ruleChange(old, rule)}`,
          run: async (tx, now) => {
            if (replace !== null) await removeRule(tx, replace, now);
            await addRule(tx, want.origin, rule, now);
          },
        });
      }
      if (options.prune) {
        for (const old of inKeyOrder(stored)) changes.push({ text: `- rule ${old.id} (${ruleText(want.name, old)})`, run: async (tx, now) => void (await removeRule(tx, old.id, now)) });
      }
    }
    if (options.prune) {
      for (const have of inKeyOrder(current)) changes.push({ text: `- app ${have.name} (${have.origin})`, run: async (tx, now) => void (await removeApp(tx, have.origin, now)) });
    }
    return changes;
  },
  async export(store) {
    const rules = await store.listRules();
    return (await store.listApps())
      .sort((a, b) => (a.origin < b.origin ? -1 : 1))
      .map((app) => ({
        name: app.name,
        url: app.origin,
        policy: app.policy,
        allow_groups: sorted(app.allowGroups),
        allow_users: sorted(app.allowUsers),
        rules: rules
          .filter((r) => r.origin === app.origin)
          .sort((a, b) => (ruleKey(a) < ruleKey(b) ? -1 : 1))
          .map((r) => ({
            path: r.path,
            methods: sorted(r.methods),
            ...(r.policy === null ? {} : { policy: r.policy }),
            allow_groups: sorted(r.groups),
            allow_users: sorted(r.users),
          })),
      }));
  },
};

function ruleChange(old: NewRule, rule: NewRule): string {
  const parts: string[] = [];
  if (old.policy !== rule.policy) parts.push(`policy ${old.policy ?? "(the app's)"} → ${rule.policy ?? "(the app's)"}`);
  if (!sameList(sorted(old.groups), rule.groups)) parts.push(`allow_groups ${showList(sorted(old.groups))} → ${showList(rule.groups)}`);
  if (!sameList(sorted(old.users), rule.users)) parts.push(`allow_users ${showList(sorted(old.users))} → ${showList(rule.users)}`);
  return parts.join(", ");
}

interface DesiredClient {
  name: string;
  clientId: string | undefined;
  redirectUris: string[];
  postLogoutUris: string[];
  app: string | null;
  public: boolean;
  idTokenAlg: "RS256" | "ES256";
  /** Undefined: keep the stored one (or, new, make one and print it once). */
  secretHash: string | undefined;
}

const oidcClients: SectionHandler<DesiredClient> = {
  entry: z.strictObject({
    name: z.string(),
    client_id: z.string().optional(),
    redirect_uris: z.array(z.string()).min(1),
    post_logout_uris: z.array(z.string()).optional(),
    app: z.string().optional(),
    public: z.boolean().optional(),
    id_token_alg: z.enum(["RS256", "ES256"]).optional(),
    secret_file: z.string().optional(),
    secret_env: z.string().optional(),
    secret_hash: z.string().optional(),
  }),
  parse(raw, context) {
    at(["name"], () => checkClientName(raw.name));
    if (raw.client_id !== undefined) at(["client_id"], () => checkClientId(raw.client_id));
    const redirectUris = (raw.redirect_uris as string[]).map((uri, i) => at(["redirect_uris", i], () => checkClientUri(uri, "redirect URI")));
    const postLogoutUris = ((raw.post_logout_uris ?? []) as string[]).map((uri, i) => at(["post_logout_uris", i], () => checkClientUri(uri, "post-logout URI")));
    let app: string | null = null;
    if (raw.app !== undefined) {
      const parsed = parseAppOrigin(raw.app);
      if ("problem" in parsed) throw new EntryProblem(["app"], parsed.problem);
      app = parsed.origin;
    }
    const given = ["secret_file", "secret_env", "secret_hash"].filter((k) => raw[k] !== undefined);
    if (given.length > 1) throw new EntryProblem([given[1]!], `give one of secret_file, secret_env and secret_hash, not ${given.join(" and ")}`);
    if (raw.public === true && given.length > 0) throw new EntryProblem([given[0]!], "a public client has no secret");
    let secretHash: string | undefined;
    if (raw.secret_hash !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(raw.secret_hash)) throw new EntryProblem(["secret_hash"], "a secret hash is 64 lower-case hex digits (SHA-256 of the secret, as `ssoctl export` prints it)");
      secretHash = raw.secret_hash;
    } else if (raw.secret_file !== undefined || raw.secret_env !== undefined) {
      const field = raw.secret_file !== undefined ? "secret_file" : "secret_env";
      const secret = readClientSecret(raw, field, context);
      at([field], () => checkSuppliedSecret(secret));
      secretHash = hashClientSecret(secret);
    }
    return {
      name: raw.name,
      clientId: raw.client_id,
      redirectUris: [...new Set(redirectUris)],
      postLogoutUris: [...new Set(postLogoutUris)],
      app,
      public: raw.public ?? false,
      idTokenAlg: raw.id_token_alg ?? "RS256",
      secretHash,
    };
  },
  identity: (client) => ({ key: client.name.toLowerCase(), field: "name" }),
  async plan(desired, store, options, all) {
    const current = new Map((await store.listOidcClients()).map((c) => [c.name.toLowerCase(), c]));
    const knownApps = new Set([...(await store.listApps()).map((a) => a.origin), ...((all.apps ?? []) as DesiredApp[]).map((a) => a.origin)]);
    const changes: Change[] = [];
    for (const [i, want] of desired.entries()) {
      if (want.app !== null && !knownApps.has(want.app)) {
        throw new EntryProblem(["oidc_clients", i, "app"], `${want.app} is neither in the file's apps nor registered; add it to apps (or \`ssoctl app add ${want.app}\`)`);
      }
      const have = current.get(want.name.toLowerCase());
      current.delete(want.name.toLowerCase());
      const request = {
        name: want.name,
        redirectUris: want.redirectUris,
        postLogoutUris: want.postLogoutUris,
        app: want.app ?? undefined,
        public: want.public,
        idTokenAlg: want.idTokenAlg,
      };
      if (have === undefined) {
        changes.push({
          text: `+ oidc_client ${want.name}`,
          run: async (tx, now, notes) => {
            const added = await addClient(tx, { ...request, clientId: want.clientId, secretHash: want.secretHash }, now);
            if (added.secret !== null) notes.push(`Client ${want.name}: id ${added.client.clientId}, secret ${added.secret} (shown once; keep it in the app's configuration)`);
          },
        });
        continue;
      }
      const fields = clientChanges(have, want);
      if (fields.length === 0) continue;
      changes.push({
        text: `~ oidc_client ${have.name}: ${fields.join(", ")}`,
        // No store update for clients: the same id and secret hash again, so the app keeps working.
        run: async (tx, now) => {
          await removeClient(tx, have.clientId, now);
          await addClient(tx, { ...request, clientId: want.clientId ?? have.clientId, secretHash: want.public ? undefined : (want.secretHash ?? have.secretHash ?? undefined) }, now);
        },
      });
    }
    if (options.prune) {
      for (const have of inKeyOrder(current)) changes.push({ text: `- oidc_client ${have.name}`, run: async (tx, now) => void (await removeClient(tx, have.clientId, now)) });
    }
    return changes;
  },
  async export(store) {
    return (await store.listOidcClients())
      .sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1))
      .map((c) => ({
        name: c.name,
        client_id: c.clientId,
        redirect_uris: c.redirectUris,
        post_logout_uris: c.postLogoutUris,
        ...(c.appOrigin === null ? {} : { app: c.appOrigin }),
        public: c.secretHash === null,
        id_token_alg: c.idTokenAlg,
        ...(c.secretHash === null ? {} : { secret_hash: c.secretHash }),
      }));
  },
};

function clientChanges(have: OidcClient, want: DesiredClient): string[] {
  const fields: string[] = [];
  if (want.clientId !== undefined && want.clientId !== have.clientId) fields.push(`client_id ${have.clientId} → ${want.clientId}`);
  if (!sameList(have.redirectUris, want.redirectUris)) fields.push(`redirect_uris ${showList(have.redirectUris)} → ${showList(want.redirectUris)}`);
  if (!sameList(have.postLogoutUris, want.postLogoutUris)) fields.push(`post_logout_uris ${showList(have.postLogoutUris)} → ${showList(want.postLogoutUris)}`);
  if (want.app !== null && have.appOrigin !== want.app) fields.push(`app ${have.appOrigin ?? "(none)"} → ${want.app}`);
  if ((have.secretHash === null) !== want.public) fields.push(want.public ? "confidential → public" : "public → confidential");
  if (have.idTokenAlg !== want.idTokenAlg) fields.push(`id_token_alg ${have.idTokenAlg} → ${want.idTokenAlg}`);
  if (!want.public && want.secretHash !== undefined && have.secretHash !== want.secretHash) fields.push("secret replaced");
  return fields;
}

/** A client secret from the file named (relative: beside the state file) or the variable named; never shown. */
function readClientSecret(raw: { secret_file?: string; secret_env?: string }, field: "secret_file" | "secret_env", context: ParseContext): string {
  if (field === "secret_env") {
    const value = context.env[raw.secret_env!];
    if (value === undefined || value === "") throw new EntryProblem(["secret_env"], `the environment variable ${raw.secret_env} is not set`);
    return value;
  }
  try {
    return fs.readFileSync(path.resolve(context.baseDir, raw.secret_file!), "utf8").split(/\r?\n/)[0]!;
  } catch (error) {
    throw new EntryProblem(["secret_file"], `cannot read ${raw.secret_file}: ${describeFsError(error)}`);
  }
}

export const SECTION_HANDLERS: { [K in StateSectionName]: SectionHandler<any> } = {
  users,
  apps,
  oidc_clients: oidcClients,
};
