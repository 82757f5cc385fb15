/** The PostgreSQL side of the SAML store (see ../saml.ts). */
import type pg from "pg";
import type { SamlLogin, SamlSp, SamlStore } from "../saml.js";

interface SpRow {
  entity_id: string;
  app_origin: string;
  metadata: string;
  idp_initiated: boolean;
  nameid_secret: string;
  created_at: string | number;
}

interface LoginRow {
  session_index: string;
  session_id: string;
  entity_id: string;
  name_id: string;
  name_id_format: string;
  created_at: string | number;
}

function toSp(row: SpRow): SamlSp {
  return {
    entityId: row.entity_id,
    appOrigin: row.app_origin,
    metadata: row.metadata,
    idpInitiated: row.idp_initiated,
    nameIdSecret: row.nameid_secret,
    createdAt: Number(row.created_at),
  };
}

function toLogin(row: LoginRow): SamlLogin {
  return {
    sessionIndex: row.session_index,
    sessionId: row.session_id,
    entityId: row.entity_id,
    nameId: row.name_id,
    nameIdFormat: row.name_id_format,
    createdAt: Number(row.created_at),
  };
}

export class PostgresSamlStore implements SamlStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly transaction: <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  async addSamlSp(sp: SamlSp): Promise<boolean> {
    const result = await this.pool.query(
      "INSERT INTO saml_sps (entity_id, app_origin, metadata, idp_initiated, nameid_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (entity_id) DO NOTHING",
      [sp.entityId, sp.appOrigin, sp.metadata, sp.idpInitiated, sp.nameIdSecret, sp.createdAt],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async updateSamlSp(sp: Omit<SamlSp, "nameIdSecret" | "createdAt">): Promise<boolean> {
    const result = await this.pool.query("UPDATE saml_sps SET app_origin = $1, metadata = $2, idp_initiated = $3 WHERE entity_id = $4", [
      sp.appOrigin,
      sp.metadata,
      sp.idpInitiated,
      sp.entityId,
    ]);
    return (result.rowCount ?? 0) > 0;
  }

  async getSamlSp(entityId: string): Promise<SamlSp | null> {
    const result = await this.pool.query<SpRow>("SELECT * FROM saml_sps WHERE entity_id = $1", [entityId]);
    const row = result.rows[0];
    return row === undefined ? null : toSp(row);
  }

  async listSamlSps(): Promise<SamlSp[]> {
    const result = await this.pool.query<SpRow>("SELECT * FROM saml_sps ORDER BY entity_id");
    return result.rows.map(toSp);
  }

  async removeSamlSp(entityId: string): Promise<boolean> {
    return this.transaction(async (client) => {
      await client.query("DELETE FROM saml_logins WHERE entity_id = $1", [entityId]);
      await client.query("DELETE FROM saml_request_ids WHERE entity_id = $1", [entityId]);
      const result = await client.query("DELETE FROM saml_sps WHERE entity_id = $1", [entityId]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  async rememberSamlRequest(entityId: string, requestId: string, expiresAt: number, now: number): Promise<boolean> {
    await this.pool.query("DELETE FROM saml_request_ids WHERE expires_at <= $1", [now]);
    const result = await this.pool.query(
      "INSERT INTO saml_request_ids (entity_id, request_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (entity_id, request_id) DO NOTHING",
      [entityId, requestId, expiresAt],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async recordSamlLogin(login: SamlLogin): Promise<void> {
    await this.pool.query(
      "INSERT INTO saml_logins (session_index, session_id, entity_id, name_id, name_id_format, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
      [login.sessionIndex, login.sessionId, login.entityId, login.nameId, login.nameIdFormat, login.createdAt],
    );
  }

  async takeSamlLoginsOfSession(sessionId: string, entityId?: string): Promise<SamlLogin[]> {
    const result =
      entityId === undefined
        ? await this.pool.query<LoginRow>("DELETE FROM saml_logins WHERE session_id = $1 RETURNING *", [sessionId])
        : await this.pool.query<LoginRow>("DELETE FROM saml_logins WHERE session_id = $1 AND entity_id = $2 RETURNING *", [sessionId, entityId]);
    return result.rows.map(toLogin);
  }

  async takeSamlLoginsOfEndedSessions(now: number): Promise<SamlLogin[]> {
    const result = await this.pool.query<LoginRow>(
      "DELETE FROM saml_logins l WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = l.session_id AND s.expires_at > $1) RETURNING *",
      [now],
    );
    return result.rows.map(toLogin);
  }
}

/** `db copy`: the SPs of a snapshot, inside the import's transaction. */
export async function importSamlSps(client: pg.PoolClient, sps: readonly SamlSp[]): Promise<void> {
  for (const sp of sps) {
    await client.query(
      "INSERT INTO saml_sps (entity_id, app_origin, metadata, idp_initiated, nameid_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
      [sp.entityId, sp.appOrigin, sp.metadata, sp.idpInitiated, sp.nameIdSecret, sp.createdAt],
    );
  }
}
