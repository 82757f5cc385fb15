/**
 * The LDAP interface's part of the store: service accounts (each belongs to an app, whose access
 * rules its users' binds pass) and users' app passwords. Both keep only a SHA-256 (hex) of a random
 * secret. Both engines implement it (sqlite/ldap.ts, postgres/ldap.ts); test/store/conformance.ts
 * holds both to it. No cache depends on these tables: every bind reads them.
 */

export interface LdapAccount {
  name: string;
  /** The app whose access rules apply to users binding through this account. */
  appOrigin: string;
  appName: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface AppPassword {
  id: number;
  username: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A user who signs in through a directory, as last seen there. */
export interface DirectoryUserRecord {
  username: string;
  directory: string;
  dn: string;
  checkedAt: number;
}

export interface LdapStore {
  /** Null when there is no such app (by origin or name); ConflictError when the name is taken. */
  addLdapAccount(account: { name: string; app: string; secretHash: string }, now: number): Promise<LdapAccount | null>;
  listLdapAccounts(): Promise<LdapAccount[]>;
  getLdapAccount(name: string): Promise<(LdapAccount & { secretHash: string }) | null>;
  removeLdapAccount(name: string): Promise<LdapAccount | null>;
  useLdapAccount(name: string, now: number): Promise<void>;

  /** Null when there is no such user; ConflictError when the user has a password with that label. */
  addAppPassword(entry: { username: string; label: string; secretHash: string }, now: number): Promise<AppPassword | null>;
  listAppPasswords(username: string): Promise<AppPassword[]>;
  /** The user's app password with that hash, or null. */
  findAppPassword(username: string, secretHash: string): Promise<AppPassword | null>;
  removeAppPassword(username: string, label: string): Promise<AppPassword | null>;
  useAppPassword(id: number, now: number): Promise<void>;

  /** Records (or refreshes) that a user came from a directory; false when there is no such user. */
  markDirectoryUser(entry: { username: string; directory: string; dn: string }, now: number): Promise<boolean>;
  getDirectoryUser(username: string): Promise<DirectoryUserRecord | null>;
  listDirectoryUsers(): Promise<DirectoryUserRecord[]>;
}
