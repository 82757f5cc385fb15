/**
 * The background re-check of directory users with live sessions: a user the directory no longer
 * has, or has disabled, loses their sessions within one period, without the forward-auth path
 * ever waiting on the directory. While the directory does not answer, sessions keep working.
 */
import type { AuditLog } from "../audit.js";
import type { Store } from "../store/store.js";
import type { DirectorySource } from "./source.js";
import { syncDirectoryUser } from "./users.js";

/** Re-checks every user of `source` who has a live session; returns how many lost their sessions. */
export async function recheckDirectoryUsers(store: Store, source: DirectorySource, audit: AuditLog, now: number): Promise<number> {
  let ended = 0;
  for (const record of await store.ldap.listDirectoryUsers()) {
    if (record.directory !== source.options.name) continue;
    if ((await store.listSessions({ username: record.username }, now)).length === 0) continue;
    const found = await source.lookup(record.username);
    if (found.kind === "unreachable") return ended;
    if (found.kind === "found" && !found.user.disabled) {
      await syncDirectoryUser(store, source.options.name, found.user, now);
      continue;
    }
    const sessions = await store.deleteUserSessions(record.username);
    ended += 1;
    await audit.record("directory.sessions_ended", { username: record.username, directory: source.options.name, reason: found.kind === "found" ? "disabled" : "not_found", sessions }, now);
  }
  return ended;
}
