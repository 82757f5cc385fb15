/** The SQLite side of the second-factor store (see ../factors.ts). */
import type Database from "better-sqlite3";
import type { FactorSnapshot } from "../snapshot.js";
import type { FactorStore, Invitation, InvitationPurpose, Passkey, PendingRecord, RecoveryCode, TotpRecord } from "../factors.js";

interface PasskeyRow {
  id: string;
  username: string;
  name: string;
  public_key: string;
  counter: number;
  transports: string;
  created_at: number;
  last_used_at: number | null;
}

const USER_ID = "(SELECT id FROM users WHERE username = ?)";

export class SqliteFactorStore implements FactorStore {
  /** `wrote`: counts a write a cache depends on (a password set through an invitation). */
  constructor(
    private readonly db: Database.Database,
    private readonly wrote: () => void,
  ) {}

  async getTotp(username: string): Promise<TotpRecord | null> {
    const row = this.db
      .prepare<[string], { secret: string; last_step: number; created_at: number }>(`SELECT secret, last_step, created_at FROM totp WHERE user_id = ${USER_ID}`)
      .get(username);
    return row === undefined ? null : { secret: row.secret, lastStep: row.last_step, createdAt: row.created_at };
  }

  async setTotp(username: string, secret: string, recoveryHashes: string[], now: number): Promise<boolean> {
    const enrol = this.db.transaction((): boolean => {
      const user = this.userId(username);
      if (user === null) return false;
      this.db.prepare("INSERT OR REPLACE INTO totp (user_id, secret, last_step, created_at) VALUES (?, ?, 0, ?)").run(user, secret, now);
      this.putRecoveryCodes(user, recoveryHashes);
      return true;
    });
    return enrol.immediate();
  }

  async removeTotp(username: string): Promise<boolean> {
    const remove = this.db.transaction((): boolean => {
      const user = this.userId(username);
      if (user === null) return false;
      this.db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").run(user);
      return this.db.prepare("DELETE FROM totp WHERE user_id = ?").run(user).changes > 0;
    });
    return remove.immediate();
  }

  async useTotpStep(username: string, step: number): Promise<boolean> {
    return this.db.prepare(`UPDATE totp SET last_step = ? WHERE user_id = ${USER_ID} AND last_step < ?`).run(step, username, step).changes > 0;
  }

  async recoveryCodes(username: string): Promise<RecoveryCode[]> {
    return this.db
      .prepare<[string], { id: number; code_hash: string }>(`SELECT id, code_hash FROM recovery_codes WHERE user_id = ${USER_ID} AND used_at IS NULL ORDER BY id`)
      .all(username)
      .map((row) => ({ id: row.id, hash: row.code_hash }));
  }

  async replaceRecoveryCodes(username: string, hashes: string[]): Promise<boolean> {
    const replace = this.db.transaction((): boolean => {
      const user = this.userId(username);
      if (user === null) return false;
      this.putRecoveryCodes(user, hashes);
      return true;
    });
    return replace.immediate();
  }

  async useRecoveryCode(id: number, now: number): Promise<boolean> {
    return this.db.prepare("UPDATE recovery_codes SET used_at = ? WHERE id = ? AND used_at IS NULL").run(now, id).changes > 0;
  }

  async addPasskey(passkey: Omit<Passkey, "lastUsedAt">): Promise<boolean> {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO passkeys (id, user_id, name, public_key, counter, transports, created_at)
         SELECT ?, id, ?, ?, ?, ?, ? FROM users WHERE username = ?`,
      )
      .run(passkey.id, passkey.name, passkey.publicKey, passkey.counter, passkey.transports.join(","), passkey.createdAt, passkey.username);
    return result.changes > 0;
  }

  async getPasskey(id: string): Promise<Passkey | null> {
    const row = this.db.prepare<[string], PasskeyRow>("SELECT p.*, u.username FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.id = ?").get(id);
    return row === undefined ? null : toPasskey(row);
  }

  async listPasskeys(username: string): Promise<Passkey[]> {
    return this.db
      .prepare<[string], PasskeyRow>("SELECT p.*, u.username FROM passkeys p JOIN users u ON u.id = p.user_id WHERE u.username = ? ORDER BY p.created_at, p.id")
      .all(username)
      .map(toPasskey);
  }

  async renamePasskey(username: string, id: string, name: string): Promise<boolean> {
    return this.db.prepare(`UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ${USER_ID}`).run(name, id, username).changes > 0;
  }

  async removePasskey(username: string, id: string): Promise<boolean> {
    return this.db.prepare(`DELETE FROM passkeys WHERE id = ? AND user_id = ${USER_ID}`).run(id, username).changes > 0;
  }

  async usePasskey(id: string, counter: number, now: number): Promise<boolean> {
    return this.db.prepare("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ?").run(counter, now, id).changes > 0;
  }

  async putPending(record: PendingRecord): Promise<void> {
    this.db
      .prepare("INSERT OR REPLACE INTO pending (id, kind, username, data, expires_at) VALUES (?, ?, ?, ?, ?)")
      .run(record.id, record.kind, record.username, JSON.stringify(record.data), record.expiresAt);
  }

  async getPending(id: string, kind: string, now: number): Promise<PendingRecord | null> {
    const row = this.db
      .prepare<[string, string, number], PendingRow>("SELECT * FROM pending WHERE id = ? AND kind = ? AND expires_at > ?")
      .get(id, kind, now);
    return row === undefined ? null : toPending(row);
  }

  async takePending(id: string, kind: string, now: number): Promise<PendingRecord | null> {
    const row = this.db
      .prepare<[string, string, number], PendingRow>("DELETE FROM pending WHERE id = ? AND kind = ? AND expires_at > ? RETURNING *")
      .get(id, kind, now);
    return row === undefined ? null : toPending(row);
  }

  async createInvitation(tokenHash: string, username: string, expiresAt: number, now: number, purpose: InvitationPurpose = "invite"): Promise<boolean> {
    const create = this.db.transaction((): boolean => {
      const user = this.userId(username);
      if (user === null) return false;
      this.db.prepare("DELETE FROM invitations WHERE user_id = ?").run(user);
      this.db.prepare("INSERT INTO invitations (token_hash, user_id, created_at, expires_at, purpose) VALUES (?, ?, ?, ?, ?)").run(tokenHash, user, now, expiresAt, purpose);
      return true;
    });
    return create.immediate();
  }

  async dropResetLinks(username: string): Promise<number> {
    return this.db.prepare("DELETE FROM invitations WHERE purpose = 'reset' AND user_id = (SELECT id FROM users WHERE username = ?)").run(username).changes;
  }

  async rememberBrowser(username: string, browserHash: string, now: number): Promise<boolean> {
    const remember = this.db.transaction((): boolean => {
      const user = this.userId(username);
      if (user === null) return false;
      const updated = this.db.prepare("UPDATE known_browsers SET last_seen = ? WHERE user_id = ? AND browser = ?").run(now, user, browserHash).changes;
      if (updated > 0) return false;
      this.db.prepare("INSERT INTO known_browsers (user_id, browser, first_seen, last_seen) VALUES (?, ?, ?, ?)").run(user, browserHash, now, now);
      return true;
    });
    return remember.immediate();
  }

  async getInvitation(tokenHash: string, now: number): Promise<Invitation | null> {
    const row = this.db
      .prepare<[string, number], { username: string; created_at: number; expires_at: number; purpose: string }>(
        "SELECT u.username, i.created_at, i.expires_at, i.purpose FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_hash = ? AND i.expires_at > ?",
      )
      .get(tokenHash, now);
    return row === undefined ? null : { username: row.username, createdAt: row.created_at, expiresAt: row.expires_at, purpose: row.purpose === "reset" ? "reset" : "invite" };
  }

  async acceptInvitation(tokenHash: string, passwordHash: string, now: number): Promise<string | null> {
    const accept = this.db.transaction((): string | null => {
      const row = this.db
        .prepare<[string, number], { user_id: number; username: string }>(
          "SELECT i.user_id, u.username FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_hash = ? AND i.expires_at > ?",
        )
        .get(tokenHash, now);
      if (row === undefined) return null;
      this.db.prepare("DELETE FROM invitations WHERE user_id = ?").run(row.user_id);
      this.db.prepare("UPDATE users SET password_hash = ? WHERE id = ?").run(passwordHash, row.user_id);
      return row.username;
    });
    const username = accept.immediate();
    if (username !== null) this.wrote();
    return username;
  }

  async getSetting(key: string): Promise<string | null> {
    const row = this.db.prepare<[string], { value: string }>("SELECT value FROM settings WHERE key = ?").get(key);
    return row?.value ?? null;
  }

  async initSetting(key: string, value: string): Promise<string> {
    this.db.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)").run(key, value);
    return (await this.getSetting(key))!;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").run(key, value);
  }

  async pruneFactors(now: number): Promise<void> {
    this.db.prepare("DELETE FROM pending WHERE expires_at <= ?").run(now);
    this.db.prepare("DELETE FROM invitations WHERE expires_at <= ?").run(now);
  }

  /** Every row `db copy` moves; called inside the store's snapshot transaction. */
  snapshot(): FactorSnapshot {
    return {
      totp: this.db
        .prepare<[], { username: string; secret: string; last_step: number; created_at: number }>("SELECT u.username, t.secret, t.last_step, t.created_at FROM totp t JOIN users u ON u.id = t.user_id")
        .all()
        .map((r) => ({ username: r.username, secret: r.secret, lastStep: r.last_step, createdAt: r.created_at })),
      recoveryCodes: this.db
        .prepare<[], { username: string; code_hash: string; used_at: number | null }>("SELECT u.username, r.code_hash, r.used_at FROM recovery_codes r JOIN users u ON u.id = r.user_id ORDER BY r.id")
        .all()
        .map((r) => ({ username: r.username, hash: r.code_hash, usedAt: r.used_at })),
      passkeys: this.db.prepare<[], PasskeyRow>("SELECT p.*, u.username FROM passkeys p JOIN users u ON u.id = p.user_id").all().map(toPasskey),
      invitations: this.db
        .prepare<[], { token_hash: string; username: string; created_at: number; expires_at: number }>("SELECT i.token_hash, u.username, i.created_at, i.expires_at FROM invitations i JOIN users u ON u.id = i.user_id")
        .all()
        .map((r) => ({ tokenHash: r.token_hash, username: r.username, createdAt: r.created_at, expiresAt: r.expires_at })),
      settings: this.db.prepare<[], { key: string; value: string }>("SELECT key, value FROM settings").all(),
    };
  }

  private userId(username: string): number | null {
    return this.db.prepare<[string], { id: number }>("SELECT id FROM users WHERE username = ?").get(username)?.id ?? null;
  }

  private putRecoveryCodes(user: number, hashes: string[]): void {
    this.db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").run(user);
    const insert = this.db.prepare("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)");
    for (const hash of hashes) insert.run(user, hash);
  }
}

interface PendingRow {
  id: string;
  kind: string;
  username: string | null;
  data: string;
  expires_at: number;
}

function toPending(row: PendingRow): PendingRecord {
  return { id: row.id, kind: row.kind, username: row.username, data: JSON.parse(row.data) as Record<string, unknown>, expiresAt: row.expires_at };
}

function toPasskey(row: PasskeyRow): Passkey {
  return {
    id: row.id,
    username: row.username,
    name: row.name,
    publicKey: row.public_key,
    counter: row.counter,
    transports: row.transports === "" ? [] : row.transports.split(","),
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}
