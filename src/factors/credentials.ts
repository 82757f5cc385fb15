/**
 * A user's credentials as an admin sees them (`ssoctl user factors`): the password, the
 * authenticator app with its recovery codes, the passkeys; removing them; and the sentence the
 * commands that change one credential print about the others they leave in place.
 */
import { SsoctlError } from "../errors.js";
import type { Store } from "../store/store.js";

export interface CredentialList {
  password: boolean;
  totp: { enrolledAt: number; recoveryCodesLeft: number } | null;
  passkeys: Array<{ id: string; name: string; createdAt: number; lastUsedAt: number | null }>;
}

export async function listCredentials(store: Store, username: string): Promise<CredentialList> {
  const user = await store.getUser(username);
  if (user === null) throw new SsoctlError(`no user named "${username}" (see \`ssoctl user list\`)`);
  const totp = await store.factors.getTotp(user.username);
  const passkeys = await store.factors.listPasskeys(user.username);
  return {
    password: user.passwordHash !== "",
    totp: totp === null ? null : { enrolledAt: totp.createdAt, recoveryCodesLeft: (await store.factors.recoveryCodes(user.username)).length },
    passkeys: passkeys.map((p) => ({ id: p.id, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt })),
  };
}

/**
 * What `--remove` names: `totp` (the app and its recovery codes), `passkey:ID` (an id as listed,
 * or its first characters when they name one passkey), `passkeys` (all of them) or `all` (both).
 */
export type RemovalRequest = { kind: "totp" } | { kind: "passkey"; id: string } | { kind: "passkeys" } | { kind: "all" };

export function parseRemoval(text: string): RemovalRequest {
  if (text === "totp" || text === "passkeys" || text === "all") return { kind: text };
  const match = /^passkey:([A-Za-z0-9_-]{4,1024})$/.exec(text);
  if (match !== null) return { kind: "passkey", id: match[1]! };
  throw new SsoctlError(`--remove takes totp, passkeys, all or passkey:ID (an id from \`ssoctl user factors NAME\`), not "${text.slice(0, 64)}"`);
}

/** Removes what is asked; the names of what was removed (for the message and the audit trail). */
export async function removeCredentials(store: Store, username: string, request: RemovalRequest): Promise<string[]> {
  const removed: string[] = [];
  if (request.kind === "totp" || request.kind === "all") {
    if (await store.factors.removeTotp(username)) removed.push("the authenticator app and its recovery codes");
    else if (request.kind === "totp") throw new SsoctlError(`${username} has no authenticator app`);
  }
  const passkeys = await store.factors.listPasskeys(username);
  let chosen = passkeys;
  if (request.kind === "passkey") {
    chosen = passkeys.filter((p) => p.id === request.id);
    if (chosen.length === 0) chosen = passkeys.filter((p) => p.id.startsWith(request.id));
    if (chosen.length !== 1) throw new SsoctlError(chosen.length === 0 ? `${username} has no passkey ${request.id}` : `passkey:${request.id} names ${chosen.length} passkeys; give more of the id`);
  } else if (request.kind === "totp") {
    chosen = [];
  } else if (request.kind === "passkeys" && passkeys.length === 0) {
    throw new SsoctlError(`${username} has no passkeys`);
  }
  for (const passkey of chosen) {
    if (await store.factors.removePasskey(username, passkey.id)) removed.push(`passkey "${passkey.name}"`);
  }
  return removed;
}

/** "It leaves in place: an authenticator app (10 recovery codes), 2 passkeys." — or null when there are none. */
export function keptSentence(list: CredentialList, options: { password: boolean }): string | null {
  const kept: string[] = [];
  if (options.password && list.password) kept.push("the password");
  if (list.totp !== null) kept.push(`an authenticator app (${list.totp.recoveryCodesLeft} recovery code${list.totp.recoveryCodesLeft === 1 ? "" : "s"} left)`);
  if (list.passkeys.length > 0) kept.push(`${list.passkeys.length} passkey${list.passkeys.length === 1 ? "" : "s"}`);
  return kept.length === 0 ? null : `Left in place: ${kept.join(", ")} (\`ssoctl user factors NAME\` lists them).`;
}
