/** The PostgreSQL side of the second-factor store (see ../factors.ts). */
import type pg from "pg";
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

interface PendingRow {
  id: string;
  kind: string;
  username: string | null;
  data: string;
  expires_at: number;
}

const USER_ID = "(SELECT id FROM users WHERE lower(username) = lower($1))";

export class PostgresFactorStore implements FactorStore {
  /**
   * `transaction` runs work on one connection between BEGIN and COMMIT; `wrote` counts a write a
   * cache depends on (a password set through an invitation; the users trigger tells other servers).
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly transaction: <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>,
    private readonly wrote: () => void,
  ) {}

  async getTotp(username: string): Promise<TotpRecord | null> {
    const result = await this.pool.query<{ secret: string; last_step: number; created_at: number }>(
      `SELECT secret, last_step, created_at FROM totp WHERE user_id = ${USER_ID}`,
      [username],
    );
    const row = result.rows[0];
    return row === undefined ? null : { secret: row.secret, lastStep: row.last_step, createdAt: row.created_at };
  }

  async setTotp(username: string, secret: string, recoveryHashes: string[], now: number): Promise<boolean> {
    return this.transaction(async (client) => {
      const user = await userId(client, username);
      if (user === null) return false;
      await client.query(
        `INSERT INTO totp (user_id, secret, last_step, created_at) VALUES ($1, $2, 0, $3)
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = excluded.created_at`,
        [user, secret, now],
      );
      await putRecoveryCodes(client, user, recoveryHashes);
      return true;
    });
  }

  async removeTotp(username: string): Promise<boolean> {
    return this.transaction(async (client) => {
      const user = await userId(client, username);
      if (user === null) return false;
      await client.query("DELETE FROM recovery_codes WHERE user_id = $1", [user]);
      return ((await client.query("DELETE FROM totp WHERE user_id = $1", [user])).rowCount ?? 0) > 0;
    });
  }

  async useTotpStep(username: string, step: number): Promise<boolean> {
    const result = await this.pool.query(`UPDATE totp SET last_step = $2 WHERE user_id = ${USER_ID} AND last_step < $2`, [username, step]);
    return (result.rowCount ?? 0) > 0;
  }

  async recoveryCodes(username: string): Promise<RecoveryCode[]> {
    const result = await this.pool.query<{ id: number; code_hash: string }>(
      `SELECT id, code_hash FROM recovery_codes WHERE user_id = ${USER_ID} AND used_at IS NULL ORDER BY id`,
      [username],
    );
    return result.rows.map((row) => ({ id: Number(row.id), hash: row.code_hash }));
  }

  async replaceRecoveryCodes(username: string, hashes: string[]): Promise<boolean> {
    return this.transaction(async (client) => {
      const user = await userId(client, username);
      if (user === null) return false;
      await putRecoveryCodes(client, user, hashes);
      return true;
    });
  }

  async useRecoveryCode(id: number, now: number): Promise<boolean> {
    const result = await this.pool.query("UPDATE recovery_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL", [id, now]);
    return (result.rowCount ?? 0) > 0;
  }

  async addPasskey(passkey: Omit<Passkey, "lastUsedAt">): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO passkeys (id, user_id, name, public_key, counter, transports, created_at)
       SELECT $2, id, $3, $4, $5, $6, $7 FROM users WHERE lower(username) = lower($1)
       ON CONFLICT (id) DO NOTHING`,
      [passkey.username, passkey.id, passkey.name, passkey.publicKey, passkey.counter, passkey.transports.join(","), passkey.createdAt],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async getPasskey(id: string): Promise<Passkey | null> {
    const result = await this.pool.query<PasskeyRow>("SELECT p.*, u.username FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.id = $1", [id]);
    const row = result.rows[0];
    return row === undefined ? null : toPasskey(row);
  }

  async listPasskeys(username: string): Promise<Passkey[]> {
    const result = await this.pool.query<PasskeyRow>(
      `SELECT p.*, u.username FROM passkeys p JOIN users u ON u.id = p.user_id WHERE lower(u.username) = lower($1) ORDER BY p.created_at, p.id COLLATE "C"`,
      [username],
    );
    return result.rows.map(toPasskey);
  }

  async renamePasskey(username: string, id: string, name: string): Promise<boolean> {
    const result = await this.pool.query(`UPDATE passkeys SET name = $3 WHERE id = $2 AND user_id = ${USER_ID}`, [username, id, name]);
    return (result.rowCount ?? 0) > 0;
  }

  async removePasskey(username: string, id: string): Promise<boolean> {
    const result = await this.pool.query(`DELETE FROM passkeys WHERE id = $2 AND user_id = ${USER_ID}`, [username, id]);
    return (result.rowCount ?? 0) > 0;
  }

  async usePasskey(id: string, counter: number, now: number): Promise<boolean> {
    const result = await this.pool.query("UPDATE passkeys SET counter = $2, last_used_at = $3 WHERE id = $1", [id, counter, now]);
    return (result.rowCount ?? 0) > 0;
  }

  async putPending(record: PendingRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO pending (id, kind, username, data, expires_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, username = excluded.username, data = excluded.data, expires_at = excluded.expires_at`,
      [record.id, record.kind, record.username, JSON.stringify(record.data), record.expiresAt],
    );
  }

  async getPending(id: string, kind: string, now: number): Promise<PendingRecord | null> {
    const result = await this.pool.query<PendingRow>("SELECT * FROM pending WHERE id = $1 AND kind = $2 AND expires_at > $3", [id, kind, now]);
    const row = result.rows[0];
    return row === undefined ? null : toPending(row);
  }

  async takePending(id: string, kind: string, now: number): Promise<PendingRecord | null> {
    const result = await this.pool.query<PendingRow>("DELETE FROM pending WHERE id = $1 AND kind = $2 AND expires_at > $3 RETURNING *", [id, kind, now]);
    const row = result.rows[0];
    return row === undefined ? null : toPending(row);
  }

  async createInvitation(tokenHash: string, username: string, expiresAt: number, now: number, purpose: InvitationPurpose = "invite"): Promise<boolean> {
    return this.transaction(async (client) => {
      const user = await userId(client, username);
      if (user === null) return false;
      await client.query("DELETE FROM invitations WHERE user_id = $1", [user]);
      await client.query("INSERT INTO invitations (token_hash, user_id, created_at, expires_at, purpose) VALUES ($1, $2, $3, $4, $5)", [tokenHash, user, now, expiresAt, purpose]);
      return true;
    });
  }

  async dropResetLinks(username: string): Promise<number> {
    const result = await this.pool.query("DELETE FROM invitations WHERE purpose = 'reset' AND user_id = (SELECT id FROM users WHERE lower(username) = lower($1))", [username]);
    return result.rowCount ?? 0;
  }

  async rememberBrowser(username: string, browserHash: string, now: number): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO known_browsers (user_id, browser, first_seen, last_seen)
       SELECT id, $2, $3, $3 FROM users WHERE lower(username) = lower($1)
       ON CONFLICT (user_id, browser) DO UPDATE SET last_seen = excluded.last_seen
       RETURNING (xmax = 0) AS inserted`,
      [username, browserHash, now],
    );
    return result.rows[0]?.inserted === true;
  }

  async getInvitation(tokenHash: string, now: number): Promise<Invitation | null> {
    const result = await this.pool.query<{ username: string; created_at: number; expires_at: number; purpose: string }>(
      "SELECT u.username, i.created_at, i.expires_at, i.purpose FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_hash = $1 AND i.expires_at > $2",
      [tokenHash, now],
    );
    const row = result.rows[0];
    return row === undefined ? null : { username: row.username, createdAt: row.created_at, expiresAt: row.expires_at, purpose: row.purpose === "reset" ? "reset" : "invite" };
  }

  async acceptInvitation(tokenHash: string, passwordHash: string, now: number): Promise<string | null> {
    const username = await this.transaction(async (client) => {
      // Deleting first takes the row: of two posts of the same link, only one finds it.
      const taken = await client.query<{ user_id: number }>("DELETE FROM invitations WHERE token_hash = $1 AND expires_at > $2 RETURNING user_id", [tokenHash, now]);
      const row = taken.rows[0];
      if (row === undefined) return null;
      await client.query("DELETE FROM invitations WHERE user_id = $1", [row.user_id]);
      const updated = await client.query<{ username: string }>("UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING username", [row.user_id, passwordHash]);
      return updated.rows[0]?.username ?? null;
    });
    if (username !== null) this.wrote();
    return username;
  }

  async getSetting(key: string): Promise<string | null> {
    const result = await this.pool.query<{ value: string }>("SELECT value FROM settings WHERE key = $1", [key]);
    return result.rows[0]?.value ?? null;
  }

  async initSetting(key: string, value: string): Promise<string> {
    await this.pool.query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [key, value]);
    return (await this.getSetting(key))!;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.pool.query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value]);
  }

  async pruneFactors(now: number): Promise<void> {
    await this.pool.query("DELETE FROM pending WHERE expires_at <= $1", [now]);
    await this.pool.query("DELETE FROM invitations WHERE expires_at <= $1", [now]);
  }
}

async function userId(client: pg.PoolClient, username: string): Promise<number | null> {
  const result = await client.query<{ id: number }>("SELECT id FROM users WHERE lower(username) = lower($1)", [username]);
  return result.rows[0]?.id ?? null;
}

async function putRecoveryCodes(client: pg.PoolClient, user: number, hashes: string[]): Promise<void> {
  await client.query("DELETE FROM recovery_codes WHERE user_id = $1", [user]);
  if (hashes.length > 0) {
    await client.query("INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::text[]) AS h", [user, hashes]);
  }
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

/** `db copy`: the second-factor rows, inside the import's transaction (users are already there). */
export async function importFactorSnapshot(client: pg.PoolClient, factors: FactorSnapshot): Promise<void> {
  const byName = "JOIN users u ON lower(u.username) = lower(x.username)";
  if (factors.totp.length > 0) {
    await client.query(
      `INSERT INTO totp (user_id, secret, last_step, created_at) SELECT u.id, x.secret, x.last_step, x.created_at
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS x(username, secret, last_step, created_at) ${byName}`,
      [factors.totp.map((t) => t.username), factors.totp.map((t) => t.secret), factors.totp.map((t) => t.lastStep), factors.totp.map((t) => t.createdAt)],
    );
  }
  if (factors.recoveryCodes.length > 0) {
    await client.query(
      `INSERT INTO recovery_codes (user_id, code_hash, used_at) SELECT u.id, x.code_hash, x.used_at
       FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS x(username, code_hash, used_at, n) ${byName} ORDER BY x.n`,
      [factors.recoveryCodes.map((r) => r.username), factors.recoveryCodes.map((r) => r.hash), factors.recoveryCodes.map((r) => r.usedAt)],
    );
  }
  if (factors.passkeys.length > 0) {
    const p = factors.passkeys;
    await client.query(
      `INSERT INTO passkeys (id, user_id, name, public_key, counter, transports, created_at, last_used_at)
       SELECT x.id, u.id, x.name, x.public_key, x.counter, x.transports, x.created_at, x.last_used_at
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[], $8::bigint[])
         AS x(id, username, name, public_key, counter, transports, created_at, last_used_at) ${byName}`,
      [p.map((k) => k.id), p.map((k) => k.username), p.map((k) => k.name), p.map((k) => k.publicKey), p.map((k) => k.counter), p.map((k) => k.transports.join(",")), p.map((k) => k.createdAt), p.map((k) => k.lastUsedAt)],
    );
  }
  if (factors.invitations.length > 0) {
    const i = factors.invitations;
    await client.query(
      `INSERT INTO invitations (token_hash, user_id, created_at, expires_at) SELECT x.token_hash, u.id, x.created_at, x.expires_at
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS x(token_hash, username, created_at, expires_at) ${byName}`,
      [i.map((v) => v.tokenHash), i.map((v) => v.username), i.map((v) => v.createdAt), i.map((v) => v.expiresAt)],
    );
  }
  for (const setting of factors.settings) {
    await client.query("INSERT INTO settings (key, value) VALUES ($1, $2)", [setting.key, setting.value]);
  }
}
