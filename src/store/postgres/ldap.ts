/** The PostgreSQL side of the LDAP interface's store (see ../ldap.ts). */
import type pg from "pg";
import { ConflictError } from "../store.js";
import type { AppPassword, DirectoryUserRecord, LdapAccount, LdapStore } from "../ldap.js";

interface AccountRow {
  name: string;
  origin: string;
  app_name: string;
  secret_hash: string;
  created_at: string | number;
  last_used_at: string | number | null;
}

interface AppPasswordRow {
  id: string | number;
  username: string;
  label: string;
  created_at: string | number;
  last_used_at: string | number | null;
}

const ACCOUNT_SELECT = `SELECT a.name, p.origin, p.name AS app_name, a.secret_hash, a.created_at, a.last_used_at
  FROM ldap_accounts a JOIN apps p ON p.id = a.app_id`;
const APP_PASSWORD_SELECT = `SELECT w.id, u.username, w.label, w.created_at, w.last_used_at
  FROM app_passwords w JOIN users u ON u.id = w.user_id`;

function orNull(value: string | number | null): number | null {
  return value === null ? null : Number(value);
}

function account(row: AccountRow): LdapAccount {
  return { name: row.name, appOrigin: row.origin, appName: row.app_name, createdAt: Number(row.created_at), lastUsedAt: orNull(row.last_used_at) };
}

function appPassword(row: AppPasswordRow): AppPassword {
  return { id: Number(row.id), username: row.username, label: row.label, createdAt: Number(row.created_at), lastUsedAt: orNull(row.last_used_at) };
}

export class PostgresLdapStore implements LdapStore {
  constructor(private readonly pool: pg.Pool) {}

  async addLdapAccount(entry: { name: string; app: string; secretHash: string }, now: number): Promise<LdapAccount | null> {
    try {
      const result = await this.pool.query(
        `INSERT INTO ldap_accounts (name, app_id, secret_hash, created_at)
         SELECT $1, id, $3, $4 FROM apps WHERE origin = $2 OR lower(name) = lower($2) LIMIT 1`,
        [entry.name, entry.app, entry.secretHash, now],
      );
      if (result.rowCount === 0) return null;
    } catch (error) {
      if ((error as { code?: string }).code === "23505") throw new ConflictError(`an LDAP account named "${entry.name}" already exists (names ignore case)`);
      throw error;
    }
    const { secretHash: _hash, ...added } = (await this.getLdapAccount(entry.name))!;
    return added;
  }

  async listLdapAccounts(): Promise<LdapAccount[]> {
    return (await this.pool.query<AccountRow>(`${ACCOUNT_SELECT} ORDER BY lower(a.name)`)).rows.map(account);
  }

  async getLdapAccount(name: string): Promise<(LdapAccount & { secretHash: string }) | null> {
    const row = (await this.pool.query<AccountRow>(`${ACCOUNT_SELECT} WHERE lower(a.name) = lower($1)`, [name])).rows[0];
    return row === undefined ? null : { ...account(row), secretHash: row.secret_hash };
  }

  async removeLdapAccount(name: string): Promise<LdapAccount | null> {
    const found = await this.getLdapAccount(name);
    if (found === null) return null;
    await this.pool.query("DELETE FROM ldap_accounts WHERE lower(name) = lower($1)", [name]);
    const { secretHash: _hash, ...rest } = found;
    return rest;
  }

  async useLdapAccount(name: string, now: number): Promise<void> {
    await this.pool.query("UPDATE ldap_accounts SET last_used_at = $2 WHERE lower(name) = lower($1)", [name, now]);
  }

  async addAppPassword(entry: { username: string; label: string; secretHash: string }, now: number): Promise<AppPassword | null> {
    let id: string | number | undefined;
    try {
      const result = await this.pool.query<{ id: string }>(
        `INSERT INTO app_passwords (user_id, label, secret_hash, created_at)
         SELECT id, $2, $3, $4 FROM users WHERE lower(username) = lower($1) RETURNING id`,
        [entry.username, entry.label, entry.secretHash, now],
      );
      id = result.rows[0]?.id;
    } catch (error) {
      if ((error as { code?: string }).code === "23505") throw new ConflictError(`${entry.username} already has an app password labelled "${entry.label}"`);
      throw error;
    }
    if (id === undefined) return null;
    return appPassword((await this.pool.query<AppPasswordRow>(`${APP_PASSWORD_SELECT} WHERE w.id = $1`, [id])).rows[0]!);
  }

  async listAppPasswords(username: string): Promise<AppPassword[]> {
    return (await this.pool.query<AppPasswordRow>(`${APP_PASSWORD_SELECT} WHERE lower(u.username) = lower($1) ORDER BY lower(w.label)`, [username])).rows.map(appPassword);
  }

  async findAppPassword(username: string, secretHash: string): Promise<AppPassword | null> {
    const row = (await this.pool.query<AppPasswordRow>(`${APP_PASSWORD_SELECT} WHERE w.secret_hash = $2 AND lower(u.username) = lower($1)`, [username, secretHash])).rows[0];
    return row === undefined ? null : appPassword(row);
  }

  async removeAppPassword(username: string, label: string): Promise<AppPassword | null> {
    const row = (
      await this.pool.query<AppPasswordRow>(
        `DELETE FROM app_passwords w USING users u WHERE u.id = w.user_id AND lower(u.username) = lower($1) AND lower(w.label) = lower($2)
         RETURNING w.id, u.username, w.label, w.created_at, w.last_used_at`,
        [username, label],
      )
    ).rows[0];
    return row === undefined ? null : appPassword(row);
  }

  async useAppPassword(id: number, now: number): Promise<void> {
    await this.pool.query("UPDATE app_passwords SET last_used_at = $2 WHERE id = $1", [id, now]);
  }

  async markDirectoryUser(entry: { username: string; directory: string; dn: string }, now: number): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO directory_users (user_id, directory, dn, checked_at)
       SELECT id, $2, $3, $4 FROM users WHERE lower(username) = lower($1)
       ON CONFLICT (user_id) DO UPDATE SET directory = excluded.directory, dn = excluded.dn, checked_at = excluded.checked_at`,
      [entry.username, entry.directory, entry.dn, now],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async getDirectoryUser(username: string): Promise<DirectoryUserRecord | null> {
    const row = (await this.pool.query<DirectoryRow>(`${DIRECTORY_SELECT} WHERE lower(u.username) = lower($1)`, [username])).rows[0];
    return row === undefined ? null : directoryUser(row);
  }

  async listDirectoryUsers(): Promise<DirectoryUserRecord[]> {
    return (await this.pool.query<DirectoryRow>(`${DIRECTORY_SELECT} ORDER BY lower(u.username)`)).rows.map(directoryUser);
  }
}

interface DirectoryRow {
  username: string;
  directory: string;
  dn: string;
  checked_at: string | number;
}

const DIRECTORY_SELECT = "SELECT u.username, d.directory, d.dn, d.checked_at FROM directory_users d JOIN users u ON u.id = d.user_id";

function directoryUser(row: DirectoryRow): DirectoryUserRecord {
  return { username: row.username, directory: row.directory, dn: row.dn, checkedAt: Number(row.checked_at) };
}
