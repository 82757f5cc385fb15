/**
 * The secrets LDAP binds use besides a user's password: a service account's password (one per
 * app that searches the directory) and a user's app passwords. Each is random (an app password
 * 120 bits, a service password 256), shown once, and stored as a SHA-256: a secret that size needs
 * no slow hash, and a bind must not wait on argon2. Every change is audited.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import { SsoctlError } from "../../errors.js";
import { printable } from "../../printable.js";
import type { AppPassword, LdapAccount } from "../../store/ldap.js";
import type { Store } from "../../store/store.js";

const LABEL = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;
const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Lower-case letters and digits without look-alikes (no 0/o, 1/l/i). */
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

export function hashLdapSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** `abcd-efgh-…`: six groups of four, typed into an app's password field as is (dashes optional, case ignored). */
export function newAppPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < 6; g += 1) {
    let group = "";
    for (let i = 0; i < 4; i += 1) group += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(group);
  }
  return groups.join("-");
}

/** What is hashed: the app password without dashes or spaces, lower-case; null when it cannot be one. */
export function normalizeAppPassword(text: string): string | null {
  const compact = text.replace(/[-\s]/g, "").toLowerCase();
  return /^[a-z0-9]{24}$/.test(compact) ? compact : null;
}

export function checkAppPasswordLabel(label: string): void {
  if (!LABEL.test(label)) throw new SsoctlError(`label "${printable(label)}" must be 1-64 letters, digits, spaces or . _ @ - (for example jellyfin)`);
}

export async function addAppPassword(store: Store, username: string, label: string, now: number): Promise<{ entry: AppPassword; secret: string }> {
  checkAppPasswordLabel(label);
  const secret = newAppPassword();
  const entry = await store.ldap.addAppPassword({ username, label, secretHash: hashLdapSecret(normalizeAppPassword(secret)!) }, now);
  if (entry === null) throw new SsoctlError(`no user named ${printable(username)}`);
  await store.audit({ at: now, event: "app_password.added", username: entry.username, detail: { label } });
  return { entry, secret };
}

export async function removeAppPassword(store: Store, username: string, label: string, now: number): Promise<AppPassword> {
  const removed = await store.ldap.removeAppPassword(username, label);
  if (removed === null) throw new SsoctlError(`${printable(username)} has no app password labelled "${printable(label)}" (see \`ssoctl user app-password list ${printable(username)}\`)`);
  await store.audit({ at: now, event: "app_password.removed", username: removed.username, detail: { label: removed.label } });
  return removed;
}

export async function addLdapAccount(store: Store, name: string, app: string, now: number): Promise<{ account: LdapAccount; secret: string }> {
  if (!ACCOUNT_NAME.test(name)) throw new SsoctlError(`account name "${printable(name)}" must be 1-64 letters, digits or . _ - (for example jellyfin)`);
  const secret = randomBytes(32).toString("base64url");
  const account = await store.ldap.addLdapAccount({ name, app, secretHash: hashLdapSecret(secret) }, now);
  if (account === null) throw new SsoctlError(`no app with origin or name "${printable(app)}" (see \`ssoctl app list\`)`);
  await store.audit({ at: now, event: "ldap_account.added", detail: { account: account.name, app: account.appOrigin } });
  return { account, secret };
}

export async function removeLdapAccount(store: Store, name: string, now: number): Promise<LdapAccount> {
  const removed = await store.ldap.removeLdapAccount(name);
  if (removed === null) throw new SsoctlError(`no LDAP account named "${printable(name)}" (see \`ssoctl ldap account list\`)`);
  await store.audit({ at: now, event: "ldap_account.removed", detail: { account: removed.name, app: removed.appOrigin } });
  return removed;
}
