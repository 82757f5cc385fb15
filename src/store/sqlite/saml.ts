/** The SQLite side of the SAML store (see ../saml.ts). */
import type Database from "better-sqlite3";
import type { SamlLogin, SamlSp, SamlStore } from "../saml.js";

interface SpRow {
  entity_id: string;
  app_origin: string;
  metadata: string;
  idp_initiated: number;
  nameid_secret: string;
  created_at: number;
}

interface LoginRow {
  session_index: string;
  session_id: string;
  entity_id: string;
  name_id: string;
  name_id_format: string;
  created_at: number;
}

function toSp(row: SpRow): SamlSp {
  return {
    entityId: row.entity_id,
    appOrigin: row.app_origin,
    metadata: row.metadata,
    idpInitiated: row.idp_initiated === 1,
    nameIdSecret: row.nameid_secret,
    createdAt: row.created_at,
  };
}

function toLogin(row: LoginRow): SamlLogin {
  return {
    sessionIndex: row.session_index,
    sessionId: row.session_id,
    entityId: row.entity_id,
    nameId: row.name_id,
    nameIdFormat: row.name_id_format,
    createdAt: row.created_at,
  };
}

export class SqliteSamlStore implements SamlStore {
  constructor(private readonly db: Database.Database) {}

  async addSamlSp(sp: SamlSp): Promise<boolean> {
    const result = this.db
      .prepare("INSERT OR IGNORE INTO saml_sps (entity_id, app_origin, metadata, idp_initiated, nameid_secret, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(sp.entityId, sp.appOrigin, sp.metadata, sp.idpInitiated ? 1 : 0, sp.nameIdSecret, sp.createdAt);
    return result.changes > 0;
  }

  async updateSamlSp(sp: Omit<SamlSp, "nameIdSecret" | "createdAt">): Promise<boolean> {
    const result = this.db
      .prepare("UPDATE saml_sps SET app_origin = ?, metadata = ?, idp_initiated = ? WHERE entity_id = ?")
      .run(sp.appOrigin, sp.metadata, sp.idpInitiated ? 1 : 0, sp.entityId);
    return result.changes > 0;
  }

  async getSamlSp(entityId: string): Promise<SamlSp | null> {
    const row = this.db.prepare<[string], SpRow>("SELECT * FROM saml_sps WHERE entity_id = ?").get(entityId);
    return row === undefined ? null : toSp(row);
  }

  async listSamlSps(): Promise<SamlSp[]> {
    return this.db.prepare<[], SpRow>("SELECT * FROM saml_sps ORDER BY entity_id").all().map(toSp);
  }

  async removeSamlSp(entityId: string): Promise<boolean> {
    const remove = this.db.transaction((): boolean => {
      this.db.prepare("DELETE FROM saml_logins WHERE entity_id = ?").run(entityId);
      this.db.prepare("DELETE FROM saml_request_ids WHERE entity_id = ?").run(entityId);
      return this.db.prepare("DELETE FROM saml_sps WHERE entity_id = ?").run(entityId).changes > 0;
    });
    return remove.immediate();
  }

  async rememberSamlRequest(entityId: string, requestId: string, expiresAt: number, now: number): Promise<boolean> {
    const remember = this.db.transaction((): boolean => {
      this.db.prepare("DELETE FROM saml_request_ids WHERE expires_at <= ?").run(now);
      return this.db.prepare("INSERT OR IGNORE INTO saml_request_ids (entity_id, request_id, expires_at) VALUES (?, ?, ?)").run(entityId, requestId, expiresAt).changes > 0;
    });
    return remember.immediate();
  }

  async recordSamlLogin(login: SamlLogin): Promise<void> {
    this.db
      .prepare("INSERT INTO saml_logins (session_index, session_id, entity_id, name_id, name_id_format, created_at) VALUES (?, ?, ?, ?, ?, ?)")
      .run(login.sessionIndex, login.sessionId, login.entityId, login.nameId, login.nameIdFormat, login.createdAt);
  }

  async takeSamlLoginsOfSession(sessionId: string, entityId?: string): Promise<SamlLogin[]> {
    if (entityId !== undefined) {
      return this.db.prepare<[string, string], LoginRow>("DELETE FROM saml_logins WHERE session_id = ? AND entity_id = ? RETURNING *").all(sessionId, entityId).map(toLogin);
    }
    return this.db.prepare<[string], LoginRow>("DELETE FROM saml_logins WHERE session_id = ? RETURNING *").all(sessionId).map(toLogin);
  }

  async takeSamlLoginsOfEndedSessions(now: number): Promise<SamlLogin[]> {
    return this.db
      .prepare<[number], LoginRow>("DELETE FROM saml_logins WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = saml_logins.session_id AND s.expires_at > ?) RETURNING *")
      .all(now)
      .map(toLogin);
  }

  /** Every SP, for `db copy`; called inside the store's snapshot transaction. */
  snapshot(): SamlSp[] {
    return this.db.prepare<[], SpRow>("SELECT * FROM saml_sps ORDER BY entity_id").all().map(toSp);
  }
}
