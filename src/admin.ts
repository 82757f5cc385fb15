/**
 * What the CLI does to the data directory, as plain functions over a Store.
 * Each change is audited; anything that should end sessions does.
 */
import { SsoctlError } from "./errors.js";
import { parseAppOrigin } from "./origin.js";
import { isReservedUsername, usernameProblem } from "./username.js";
import { ConflictError, type App, type AppAccessSettings, type Session, type Store, type User } from "./store/store.js";
import { printable } from "./printable.js";

export interface UserProfile {
  name?: string | undefined;
  email?: string | undefined;
  groups?: string | undefined;
}

export function checkUsername(username: string): void {
  const problem = usernameProblem(username);
  if (problem !== null) throw new SsoctlError(problem);
}

/** `checkUsername`, and not the name anonymous visitors get (an account by it would pass for them, or they for it). */
export function checkNewUsername(username: string): void {
  checkUsername(username);
  if (isReservedUsername(username)) {
    throw new SsoctlError(`the username "${username}" is reserved for anonymous visitors; choose another`);
  }
}

/** Validates `--name`, `--email` and `--groups` before any password is asked for. */
export function parseProfile(profile: UserProfile): { name: string; email: string; groups: string[] } {
  const name = profile.name ?? "";
  const email = profile.email ?? "";
  if (name.length > 200 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new SsoctlError("--name takes at most 200 characters and no control characters");
  }
  if (email !== "" && !/^[^\s@\x00-\x1f\x7f,]{1,64}@[^\s@\x00-\x1f\x7f,]{1,190}$/.test(email)) {
    throw new SsoctlError(`--email "${printable(email)}" is not an email address`);
  }
  const groups = (profile.groups ?? "")
    .split(",")
    .map((g) => g.trim())
    .filter((g) => g !== "");
  for (const group of groups) {
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(group)) {
      throw new SsoctlError(`group "${printable(group)}" may contain only letters, digits, ".", "_", ":" and "-"`);
    }
  }
  return { name, email, groups: [...new Set(groups)] };
}

export async function assertUserAbsent(store: Store, username: string): Promise<void> {
  const existing = await store.getUser(username);
  if (existing !== null) {
    throw new SsoctlError(`a user named "${existing.username}" already exists (usernames ignore case)`);
  }
}

export async function addUser(
  store: Store,
  input: { username: string; passwordHash: string; profile: ReturnType<typeof parseProfile> },
  now: number,
): Promise<User> {
  checkNewUsername(input.username);
  try {
    const user = await store.createUser({ username: input.username, passwordHash: input.passwordHash, ...input.profile }, now);
    await store.audit({ at: now, event: "user.added", username: user.username });
    return user;
  } catch (error) {
    if (error instanceof ConflictError) throw new SsoctlError(error.message);
    throw error;
  }
}

export async function requireUser(store: Store, username: string): Promise<User> {
  const user = await store.getUser(username);
  if (user === null) throw new SsoctlError(`no user named "${printable(username)}" (see \`ssoctl user list\`)`);
  return user;
}

/**
 * What `user passwd`, `user disable`, `user remove` and `session revoke` end besides sessions: the
 * user's OpenID Connect grants, with their refresh and access tokens, so an app holding a refresh
 * token cannot keep the old sign-in alive.
 */
export async function endOidcGrants(store: Store, username: string): Promise<number> {
  return store.deleteUserOidcRecords(username);
}

export async function removeUser(store: Store, username: string, now: number): Promise<{ sessions: number }> {
  const user = await requireUser(store, username);
  const sessions = await store.deleteUserSessions(user.username);
  // Before the user goes: the subject that names the records goes with them.
  const oidc = await endOidcGrants(store, user.username);
  await store.deleteUser(user.username);
  await store.audit({ at: now, event: "user.removed", username: user.username, detail: { sessions, oidc } });
  return { sessions };
}

export async function changePassword(store: Store, username: string, passwordHash: string, now: number): Promise<{ sessions: number }> {
  const user = await requireUser(store, username);
  await store.setPassword(user.username, passwordHash);
  const sessions = await store.deleteUserSessions(user.username);
  const oidc = await endOidcGrants(store, user.username);
  await store.audit({ at: now, event: "user.password_changed", username: user.username, detail: { sessions, oidc } });
  return { sessions };
}

export async function setUserDisabled(
  store: Store,
  username: string,
  options: { disabled: boolean },
  now: number,
): Promise<{ sessions: number }> {
  const user = await requireUser(store, username);
  await store.setDisabled(user.username, options.disabled);
  const sessions = options.disabled ? await store.deleteUserSessions(user.username) : 0;
  const oidc = options.disabled ? await endOidcGrants(store, user.username) : 0;
  await store.audit({ at: now, event: options.disabled ? "user.disabled" : "user.enabled", username: user.username, detail: { sessions, oidc } });
  return { sessions };
}

export async function unlockUser(store: Store, username: string, now: number): Promise<boolean> {
  const user = await requireUser(store, username);
  const cleared = await store.clearThrottle("user", user.username.toLowerCase());
  await store.audit({ at: now, event: "user.unlocked", username: user.username });
  return cleared;
}

export async function addApp(
  store: Store,
  input: { url: string; name?: string | undefined; access?: AppAccessSettings | undefined },
  now: number,
): Promise<App> {
  const parsed = parseAppOrigin(input.url);
  if ("problem" in parsed) throw new SsoctlError(parsed.problem);
  const name = input.name ?? new URL(parsed.origin).host;
  if (name === "" || name.length > 100 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new SsoctlError("--name takes 1 to 100 characters and no control characters");
  }
  try {
    const app = await store.addApp({ name, origin: parsed.origin, ...input.access }, now);
    await store.audit({
      at: now,
      event: "app.added",
      detail: { origin: app.origin, name: app.name, policy: app.policy, allowGroups: app.allowGroups, allowUsers: app.allowUsers },
    });
    return app;
  } catch (error) {
    if (error instanceof ConflictError) throw new SsoctlError(error.message);
    throw error;
  }
}

export async function removeApp(store: Store, urlOrName: string, now: number): Promise<App> {
  const parsed = parseAppOrigin(urlOrName);
  const removed = await store.removeApp("origin" in parsed ? parsed.origin : urlOrName);
  if (removed === null) throw new SsoctlError(`no app registered as "${printable(urlOrName)}" (see \`ssoctl app list\`)`);
  await store.audit({ at: now, event: "app.removed", detail: { origin: removed.origin, name: removed.name } });
  return removed;
}

function noUserNoSessions(username: string): SsoctlError {
  return new SsoctlError(`no user named "${printable(username)}" and no sessions for that name`);
}

/**
 * Live sessions, every one or one user's. A name that is no user and has no sessions is the
 * same error as in `revokeSessions`: a typo must not look like "this user has no sessions".
 */
export async function listSessions(store: Store, username: string | undefined, now: number): Promise<Session[]> {
  const sessions = await store.listSessions({ username }, now);
  if (username !== undefined && sessions.length === 0 && (await store.getUser(username)) === null) throw noUserNoSessions(username);
  return sessions;
}

export async function revokeSessions(
  store: Store,
  target: { id?: string | undefined; username?: string | undefined; all?: boolean | undefined },
  now: number,
): Promise<number> {
  let count: number;
  let oidc = 0;
  if (target.all) {
    count = await store.deleteAllSessions();
    oidc = await store.deleteAllOidcAccountRecords();
  } else if (target.username !== undefined) {
    const user = await store.getUser(target.username);
    count = await store.deleteUserSessions(user?.username ?? target.username);
    if (user === null && count === 0) throw noUserNoSessions(target.username);
    if (user !== null) oidc = await endOidcGrants(store, user.username);
  } else if (target.id !== undefined) {
    const session = await store.getSession(target.id, now);
    if (!(await store.deleteSession(target.id))) throw new SsoctlError(`no session with id ${printable(target.id)} (see \`ssoctl session list\`)`);
    // One revoked session ends the user's OpenID grants too: they may have been made from it.
    if (session !== null && !session.anonymous) oidc = await endOidcGrants(store, session.username);
    count = 1;
  } else {
    count = 0;
  }
  await store.audit({ at: now, event: "session.revoked", username: target.username, detail: { id: target.id, all: target.all === true, count, oidc } });
  return count;
}

export type { Session };
