/**
 * Directory users inside ssoctl: each signs in once through the directory, then has a row in
 * `users` like anyone else (so second factors, rules, groups and sessions work the same), with no
 * password of its own and a `directory_users` row naming the entry. Profile and groups are
 * refreshed from the directory at every sign-in and re-check.
 */
import { isValidUsername } from "../username.js";
import { ConflictError, type Store, type UserWithHash } from "../store/store.js";
import type { DirectoryUser } from "./source.js";

/** The stored "hash" of a directory user: no password ever matches it (it is no hash at all). */
export const DIRECTORY_PASSWORD = "!directory";

export function isDirectoryUser(user: { passwordHash: string }): boolean {
  return user.passwordHash === DIRECTORY_PASSWORD;
}

/** The user's row as the directory has them now; null when the name cannot be an ssoctl username or a local user has it. */
export async function syncDirectoryUser(store: Store, directory: string, found: DirectoryUser, now: number): Promise<UserWithHash | null> {
  if (!isValidUsername(found.username)) return null;
  const profile = { name: found.name, email: found.email, groups: found.groups };
  let existing = await store.getUser(found.username);
  if (existing === null) {
    try {
      await store.createUser({ username: found.username, ...profile, passwordHash: DIRECTORY_PASSWORD }, now);
    } catch (error) {
      // Another sign-in of the same user made the row first.
      if (!(error instanceof ConflictError)) throw error;
    }
    existing = await store.getUser(found.username);
    if (existing === null) return null;
  }
  // Local users take precedence: a directory entry never takes over a local account.
  if (!isDirectoryUser(existing)) return null;
  if (existing.name !== profile.name || existing.email !== profile.email || existing.groups.join(",") !== profile.groups.join(",")) {
    await store.updateUser(existing.username, profile);
  }
  await store.ldap.markDirectoryUser({ username: existing.username, directory, dn: found.dn }, now);
  return store.getUser(existing.username);
}
