/** The SQLite side of the LDAP interface's store (see ../ldap.ts). */
import type Database from "better-sqlite3";
import { ConflictError } from "../store.js";
import type { AppPassword, DirectoryUserRecord, LdapAccount, LdapStore } from "../ldap.js";

interface AccountRow {
  name: string;
  origin: string;
  app_name: string;
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
}

interface AppPasswordRow {
  id: number;
  username: string;
  label: string;
  created_at: number;
  last_used_at: number | null;
}

const ACCOUNT_SELECT = `SELECT a.name, p.origin, p.name AS app_name, a.secret_hash, a.created_at, a.last_used_at
  FROM ldap_accounts a JOIN apps p ON p.id = a.app_id`;
const APP_PASSWORD_SELECT = `SELECT w.id, u.username, w.label, w.created_at, w.last_used_at
  FROM app_passwords w JOIN users u ON u.id = w.user_id`;

function account(row: AccountRow): LdapAccount {
  return { name: row.name, appOrigin: row.origin, appName: row.app_name, createdAt: row.created_at, lastUsedAt: row.last_used_at };
}

function appPassword(row: AppPasswordRow): AppPassword {
  return { id: row.id, username: row.username, label: row.label, createdAt: row.created_at, lastUsedAt: row.last_used_at };
}

function isUniqueViolation(error: unknown): boolean {
  return String((error as { code?: string }).code).startsWith("SQLITE_CONSTRAINT_UNIQUE");
}

export class SqliteLdapStore implements LdapStore {
  constructor(private readonly db: Database.Database) {}

  async addLdapAccount(entry: { name: string; app: string; secretHash: string }, now: number): Promise<LdapAccount | null> {
    const app = this.db.prepare<[string, string], { id: number }>("SELECT id FROM apps WHERE origin = ? OR name = ?").get(entry.app, entry.app);
    if (app === undefined) return null;
    try {
      this.db.prepare("INSERT INTO ldap_accounts (name, app_id, secret_hash, created_at) VALUES (?, ?, ?, ?)").run(entry.name, app.id, entry.secretHash, now);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`an LDAP account named "${entry.name}" already exists (names ignore case)`);
      throw error;
    }
    const { secretHash: _hash, ...added } = (await this.getLdapAccount(entry.name))!;
    return added;
  }

  async listLdapAccounts(): Promise<LdapAccount[]> {
    return this.db.prepare<[], AccountRow>(`${ACCOUNT_SELECT} ORDER BY a.name COLLATE NOCASE`).all().map(account);
  }

  async getLdapAccount(name: string): Promise<(LdapAccount & { secretHash: string }) | null> {
    const row = this.db.prepare<[string], AccountRow>(`${ACCOUNT_SELECT} WHERE a.name = ?`).get(name);
    return row === undefined ? null : { ...account(row), secretHash: row.secret_hash };
  }

  async removeLdapAccount(name: string): Promise<LdapAccount | null> {
    const found = await this.getLdapAccount(name);
    if (found === null) return null;
    this.db.prepare("DELETE FROM ldap_accounts WHERE name = ?").run(name);
    const { secretHash: _hash, ...rest } = found;
    return rest;
  }

  async useLdapAccount(name: string, now: number): Promise<void> {
    this.db.prepare("UPDATE ldap_accounts SET last_used_at = ? WHERE name = ?").run(now, name);
  }

  async addAppPassword(entry: { username: string; label: string; secretHash: string }, now: number): Promise<AppPassword | null> {
    const user = this.db.prepare<[string], { id: number }>("SELECT id FROM users WHERE username = ?").get(entry.username);
    if (user === undefined) return null;
    let id: number;
    try {
      id = Number(this.db.prepare("INSERT INTO app_passwords (user_id, label, secret_hash, created_at) VALUES (?, ?, ?, ?)").run(user.id, entry.label, entry.secretHash, now).lastInsertRowid);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`${entry.username} already has an app password labelled "${entry.label}"`);
      throw error;
    }
    return appPassword(this.db.prepare<[number], AppPasswordRow>(`${APP_PASSWORD_SELECT} WHERE w.id = ?`).get(id)!);
  }

  async listAppPasswords(username: string): Promise<AppPassword[]> {
    return this.db.prepare<[string], AppPasswordRow>(`${APP_PASSWORD_SELECT} WHERE u.username = ? ORDER BY w.label COLLATE NOCASE`).all(username).map(appPassword);
  }

  async findAppPassword(username: string, secretHash: string): Promise<AppPassword | null> {
    const row = this.db.prepare<[string, string], AppPasswordRow>(`${APP_PASSWORD_SELECT} WHERE w.secret_hash = ? AND u.username = ?`).get(secretHash, username);
    return row === undefined ? null : appPassword(row);
  }

  async removeAppPassword(username: string, label: string): Promise<AppPassword | null> {
    const row = this.db.prepare<[string, string], AppPasswordRow>(`${APP_PASSWORD_SELECT} WHERE u.username = ? AND w.label = ?`).get(username, label);
    if (row === undefined) return null;
    this.db.prepare("DELETE FROM app_passwords WHERE id = ?").run(row.id);
    return appPassword(row);
  }

  async useAppPassword(id: number, now: number): Promise<void> {
    this.db.prepare("UPDATE app_passwords SET last_used_at = ? WHERE id = ?").run(now, id);
  }

  async markDirectoryUser(entry: { username: string; directory: string; dn: string }, now: number): Promise<boolean> {
    const user = this.db.prepare<[string], { id: number }>("SELECT id FROM users WHERE username = ?").get(entry.username);
    if (user === undefined) return false;
    this.db
      .prepare("INSERT INTO directory_users (user_id, directory, dn, checked_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET directory = excluded.directory, dn = excluded.dn, checked_at = excluded.checked_at")
      .run(user.id, entry.directory, entry.dn, now);
    return true;
  }

  async getDirectoryUser(username: string): Promise<DirectoryUserRecord | null> {
    const row = this.db.prepare<[string], DirectoryRow>(`${DIRECTORY_SELECT} WHERE u.username = ?`).get(username);
    return row === undefined ? null : directoryUser(row);
  }

  async listDirectoryUsers(): Promise<DirectoryUserRecord[]> {
    return this.db.prepare<[], DirectoryRow>(`${DIRECTORY_SELECT} ORDER BY u.username COLLATE NOCASE`).all().map(directoryUser);
  }
}

interface DirectoryRow {
  username: string;
  directory: string;
  dn: string;
  checked_at: number;
}

const DIRECTORY_SELECT = "SELECT u.username, d.directory, d.dn, d.checked_at FROM directory_users d JOIN users u ON u.id = d.user_id";

function directoryUser(row: DirectoryRow): DirectoryUserRecord {
  return { username: row.username, directory: row.directory, dn: row.dn, checkedAt: row.checked_at };
}
