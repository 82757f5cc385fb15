/** The SQLite store (better-sqlite3): WAL, a busy timeout, foreign keys, prepared statements. */
import Database from "better-sqlite3";
import * as fs from "node:fs";
import { SsoctlError } from "../../errors.js";
import { describeFsError, isErrno } from "../../data-dir.js";
import { applyMigrations } from "./migrate.js";
import { SqliteFactorStore } from "./factors.js";
import { SqliteSamlStore } from "./saml.js";
import { SqliteLdapStore } from "./ldap.js";
import type { Snapshot } from "../snapshot.js";
import type { Policy } from "../../access/decide.js";
import {
  ConflictError,
  type App,
  type AppAccessSettings,
  type AuditEvent,
  type CasTicket,
  type ImportedUser,
  type ImportOutcome,
  type LiveCounts,
  type NewRule,
  type StoredRule,
  type UserChanges,
  type NewUser,
  type RetiredKey,
  type Session,
  type Store,
  type ThrottleRule,
  type ThrottleScope,
  type ThrottleState,
  type User,
  type UserWithHash,
  type OidcClient,
  type OidcRecord,
  type OidcRecordKeys,
} from "../store.js";

interface UserRow {
  username: string;
  name: string;
  email: string;
  groups: string;
  password_hash: string;
  disabled: number;
  created_at: number;
  last_login_at: number | null;
}

type ListedUserRow = Omit<UserRow, "password_hash">;

interface SessionRow {
  id: string;
  username: string;
  anonymous: number;
  created_at: number;
  expires_at: number;
  client_addr: string;
  user_agent: string;
  amr: string;
}

interface AppRow {
  name: string;
  origin: string;
  created_at: number;
  policy: string;
  allow_groups: string;
  allow_users: string;
}

interface CasTicketRow {
  id: string;
  session_id: string;
  username: string;
  service: string;
  from_sso: number;
  created_at: number;
  expires_at: number;
}

const APP_COLUMNS = "name, origin, created_at, policy, allow_groups, allow_users";

interface RuleRow {
  id: number;
  app: string;
  origin: string;
  path: string;
  methods: string;
  policy: string | null;
  groups: string;
  users: string;
  created_at: number;
}

const RULE_SELECT = `SELECT r.id, a.name AS app, a.origin, r.path, r.methods, r.policy, r.groups, r.users, r.created_at
  FROM access_rules r JOIN apps a ON a.id = r.app_id`;

interface ThrottleRow {
  failures: number;
  window_start: number;
  locked_until: number;
}

export interface OpenOptions {
  /** Create the file (only `init` does); otherwise it must exist. */
  create?: boolean;
  readonly?: boolean;
}

/** Opens the database and brings its schema up to date. Errors are one-line SsoctlErrors. */
export function openSqliteStore(dbPath: string, options: OpenOptions = {}): SqliteStore {
  if (!options.create) {
    // existsSync says "absent" for a directory we may not read; only a real ENOENT means "not initialised".
    try {
      if (fs.statSync(dbPath).size === 0) {
        throw new SsoctlError(`${dbPath} is empty (an interrupted \`ssoctl init\`?); remove the data directory and run \`ssoctl init\` again`);
      }
    } catch (error) {
      if (error instanceof SsoctlError) throw error;
      if (isErrno(error, "ENOENT")) {
        throw new SsoctlError(`no database at ${dbPath}; run \`ssoctl init\` first (or pass --data-dir)`);
      }
      throw new SsoctlError(`cannot open the database ${dbPath}: ${describeFsError(error)}`, { cause: error });
    }
  }
  let db: Database.Database;
  try {
    db = new Database(dbPath, { fileMustExist: !options.create, readonly: options.readonly ?? false });
  } catch (error) {
    throw new SsoctlError(`cannot open the database ${dbPath}: ${describeDbError(error)}`, { cause: error });
  }
  try {
    db.pragma("busy_timeout = 5000");
    if (!options.readonly) db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    if (!options.readonly) applyMigrations(db);
  } catch (error) {
    db.close();
    if (error instanceof SsoctlError) throw error;
    throw new SsoctlError(`cannot use the database ${dbPath}: ${describeDbError(error)}`, { cause: error });
  }
  return new SqliteStore(db);
}

export function describeDbError(error: unknown): string {
  const code = (error as { code?: string })?.code ?? "";
  if (code === "SQLITE_NOTADB") return "the file is not an SQLite database or is corrupt (restore it from a backup)";
  if (code === "SQLITE_CORRUPT") return "the database is corrupt (restore it from a backup)";
  if (code === "SQLITE_CANTOPEN") return "cannot open the file (check that it exists and its permissions)";
  if (code === "SQLITE_READONLY") return "the database is read-only (check the file's permissions)";
  if (code === "SQLITE_FULL") return "the disk is full";
  if (code === "SQLITE_IOERR" || code.startsWith("SQLITE_IOERR")) return "an I/O error occurred";
  if (isErrno(error, "EACCES")) return describeFsError(error);
  return (error as Error)?.message ?? String(error);
}

export class SqliteStore implements Store {
  private localWrites = 0;
  private readonly stmts;
  readonly factors: SqliteFactorStore;
  readonly saml: SqliteSamlStore;
  readonly ldap: SqliteLdapStore;

  constructor(readonly db: Database.Database) {
    this.factors = new SqliteFactorStore(db, () => this.wrote(null));
    this.saml = new SqliteSamlStore(db);
    this.ldap = new SqliteLdapStore(db);
    this.stmts = {
      insertUser: db.prepare(
        "INSERT INTO users (username, name, email, groups, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      getUser: db.prepare<[string], UserRow>("SELECT * FROM users WHERE username = ?"),
      // Listings never read the password hashes: a third less to step through on 100,000 users.
      listUsers: db.prepare<[], ListedUserRow>(
        "SELECT username, name, email, groups, disabled, created_at, last_login_at FROM users ORDER BY username COLLATE NOCASE",
      ),
      setPassword: db.prepare("UPDATE users SET password_hash = ? WHERE username = ?"),
      setDisabled: db.prepare("UPDATE users SET disabled = ? WHERE username = ?"),
      deleteUser: db.prepare("DELETE FROM users WHERE username = ?"),
      recordLogin: db.prepare("UPDATE users SET last_login_at = ? WHERE username = ?"),
      addApp: db.prepare(
        "INSERT INTO apps (name, origin, created_at, policy, allow_groups, allow_users) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      listApps: db.prepare<[], AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY name COLLATE NOCASE`),
      findApp: db.prepare<[string, string], AppRow & { id: number }>(`SELECT id, ${APP_COLUMNS} FROM apps WHERE origin = ? OR name = ?`),
      deleteApp: db.prepare("DELETE FROM apps WHERE origin = ?"),
      insertAnonymousSession: db.prepare(
        `INSERT INTO sessions (id, user_id, username, anonymous, created_at, expires_at, client_addr, user_agent)
         VALUES (@id, NULL, @username, 1, @createdAt, @expiresAt, @clientAddr, @userAgent)`,
      ),
      insertUserSession: db.prepare(
        `INSERT INTO sessions (id, user_id, username, anonymous, created_at, expires_at, client_addr, user_agent, amr)
         SELECT @id, id, username, 0, @createdAt, @expiresAt, @clientAddr, @userAgent, @amr FROM users
         WHERE username = @username AND disabled = 0 AND (@passwordHash IS NULL OR password_hash = @passwordHash)`,
      ),
      replacePasswordHash: db.prepare("UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?"),
      getSession: db.prepare<[string, number], SessionRow>("SELECT * FROM sessions WHERE id = ? AND expires_at > ?"),
      listSessions: db.prepare<[number], SessionRow>("SELECT * FROM sessions WHERE expires_at > ? ORDER BY created_at, id"),
      listUserSessions: db.prepare<[number, string], SessionRow>(
        "SELECT * FROM sessions WHERE expires_at > ? AND username = ? COLLATE NOCASE ORDER BY created_at, id",
      ),
      deleteSession: db.prepare("DELETE FROM sessions WHERE id = ?"),
      deleteUserSessions: db.prepare("DELETE FROM sessions WHERE username = ? COLLATE NOCASE"),
      deleteAllSessions: db.prepare("DELETE FROM sessions"),
      getThrottle: db.prepare<[string, string], ThrottleRow>(
        "SELECT failures, window_start, locked_until FROM throttle WHERE scope = ? AND key = ?",
      ),
      putThrottle: db.prepare(
        `INSERT INTO throttle (scope, key, failures, window_start, locked_until) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (scope, key) DO UPDATE SET failures = excluded.failures,
           window_start = excluded.window_start, locked_until = excluded.locked_until`,
      ),
      clearThrottle: db.prepare("DELETE FROM throttle WHERE scope = ? AND key = ?"),
      addRetiredKey: db.prepare(
        "INSERT OR REPLACE INTO retired_keys (kid, secret, retired_at, expires_at) VALUES (?, ?, ?, ?)",
      ),
      liveRetiredKeys: db.prepare<[number], { kid: string; secret: string; retired_at: number; expires_at: number }>(
        "SELECT * FROM retired_keys WHERE expires_at > ? ORDER BY retired_at DESC",
      ),
      audit: db.prepare("INSERT INTO audit (at, event, username, detail) VALUES (?, ?, ?, ?)"),
      listAudit: db.prepare<[number], { at: number; event: string; username: string | null; detail: string }>(
        "SELECT at, event, username, detail FROM audit ORDER BY id DESC LIMIT ?",
      ),
      listUserAudit: db.prepare<[string, number], { at: number; event: string; username: string | null; detail: string }>(
        "SELECT at, event, username, detail FROM audit WHERE username = ? ORDER BY id DESC LIMIT ?",
      ),
      pruneSessions: db.prepare("DELETE FROM sessions WHERE expires_at <= ?"),
      pruneThrottle: db.prepare("DELETE FROM throttle WHERE window_start <= ? AND locked_until <= ?"),
      pruneKeys: db.prepare("DELETE FROM retired_keys WHERE expires_at <= ?"),
      // Access rules
      updateUser: db.prepare(
        `UPDATE users SET name = coalesce(@name, name), email = coalesce(@email, email), groups = coalesce(@groups, groups)
         WHERE username = @username`,
      ),
      updateApp: db.prepare(
        `UPDATE apps SET name = coalesce(@name, name), policy = coalesce(@policy, policy),
           allow_groups = coalesce(@allowGroups, allow_groups), allow_users = coalesce(@allowUsers, allow_users)
         WHERE id = @id`,
      ),
      getAppById: db.prepare<[number], AppRow>(`SELECT ${APP_COLUMNS} FROM apps WHERE id = ?`),
      addRule: db.prepare(
        "INSERT INTO access_rules (app_id, path, methods, policy, groups, users, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      getRule: db.prepare<[number], RuleRow>(`${RULE_SELECT} WHERE r.id = ?`),
      listRules: db.prepare<[], RuleRow>(`${RULE_SELECT} ORDER BY a.name COLLATE NOCASE, r.id`),
      listAppRules: db.prepare<[number], RuleRow>(`${RULE_SELECT} WHERE r.app_id = ? ORDER BY r.id`),
      deleteRule: db.prepare("DELETE FROM access_rules WHERE id = ?"),
      ping: db.prepare("SELECT 1 AS ok"),
      // Prepared once: db.pragma() would compile it again on every call, and this runs per request.
      // CAS
      insertCasTicket: db.prepare(
        "INSERT INTO cas_tickets (id, session_id, username, service, from_sso, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      consumeCasTicket: db.prepare<[string], CasTicketRow>(
        "UPDATE cas_tickets SET used = 1 WHERE id = ? AND used = 0 RETURNING id, session_id, username, service, from_sso, created_at, expires_at",
      ),
      takeCasTickets: db.prepare<[string], CasTicketRow>(
        "DELETE FROM cas_tickets WHERE session_id = ? RETURNING id, session_id, username, service, from_sso, created_at, expires_at",
      ),
      takeEndedCasTickets: db.prepare<[number], CasTicketRow>(
        "DELETE FROM cas_tickets WHERE session_id NOT IN (SELECT id FROM sessions WHERE expires_at > ?) RETURNING id, session_id, username, service, from_sso, created_at, expires_at",
      ),
      // Unused tickets past their minute (no service holds a session from them). Tickets of ended
      // sessions are the single-logout sweep's to take, so that their services are told first.
      pruneCasTickets: db.prepare("DELETE FROM cas_tickets WHERE used = 0 AND expires_at <= ?"),
      dataVersion: db.prepare<[], number>("PRAGMA data_version").pluck(),
    };
  }

  /** Counts a write that a cache may depend on (users, apps, ended sessions, keys); see changeCounter. */
  private wrote<T>(result: T): T {
    this.localWrites += 1;
    return result;
  }

  async createUser(user: NewUser, now: number): Promise<User> {
    try {
      this.stmts.insertUser.run(user.username, user.name, user.email, user.groups.join(","), user.passwordHash, now);
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new ConflictError(`a user named "${user.username}" already exists (usernames ignore case)`);
      }
      throw error;
    }
    this.wrote(null);
    return toUser(this.stmts.getUser.get(user.username)!);
  }

  async getUser(username: string): Promise<UserWithHash | null> {
    const row = this.stmts.getUser.get(username);
    return row === undefined ? null : { ...toUser(row), passwordHash: row.password_hash };
  }

  async listUsers(): Promise<User[]> {
    return this.stmts.listUsers.all().map(toUser);
  }

  *iterateUsers(): Iterable<User> {
    for (const row of this.stmts.listUsers.iterate()) yield toUser(row);
  }

  async setPassword(username: string, passwordHash: string): Promise<boolean> {
    return this.wrote(this.stmts.setPassword.run(passwordHash, username).changes > 0);
  }

  async replacePasswordHash(username: string, expectedHash: string, passwordHash: string): Promise<boolean> {
    return this.wrote(this.stmts.replacePasswordHash.run(passwordHash, username, expectedHash).changes > 0);
  }

  async setDisabled(username: string, disabled: boolean): Promise<boolean> {
    return this.wrote(this.stmts.setDisabled.run(disabled ? 1 : 0, username).changes > 0);
  }

  async deleteUser(username: string): Promise<boolean> {
    const remove = this.db.transaction((name: string) => {
      this.stmts.deleteUserSessions.run(name);
      return this.stmts.deleteUser.run(name).changes > 0;
    });
    return this.wrote(remove(username));
  }

  async recordLogin(username: string, now: number): Promise<void> {
    this.stmts.recordLogin.run(now, username);
  }

  // Operations
  async importUsers(users: ImportedUser[], options: { replace: boolean; dryRun: boolean }, now: number): Promise<ImportOutcome> {
    const insert = this.db.prepare(
      "INSERT INTO users (username, name, email, groups, password_hash, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    const overwrite = this.db.prepare("UPDATE users SET name = ?, email = ?, groups = ?, password_hash = ?, disabled = ? WHERE username = ?");
    const dryRun = new Error("dry run");
    let outcome: ImportOutcome = { created: [], replaced: [], kept: [] };
    const write = this.db.transaction((): void => {
      for (const user of users) {
        const existing = this.stmts.getUser.get(user.username);
        const groups = user.groups.join(",");
        if (existing === undefined) {
          insert.run(user.username, user.name, user.email, groups, user.passwordHash, user.disabled ? 1 : 0, now);
          outcome.created.push(user.username);
        } else if (options.replace) {
          overwrite.run(user.name, user.email, groups, user.passwordHash, user.disabled ? 1 : 0, existing.username);
          this.stmts.deleteUserSessions.run(existing.username);
          outcome.replaced.push(existing.username);
        } else {
          outcome.kept.push(existing.username);
        }
      }
      if (options.dryRun) throw dryRun;
    });
    try {
      write();
    } catch (error) {
      if (error !== dryRun) {
        outcome = { created: [], replaced: [], kept: [] };
        if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") throw new ConflictError("two imported users have the same name (usernames ignore case)");
        throw error;
      }
    }
    if (!options.dryRun && outcome.created.length + outcome.replaced.length > 0) this.wrote(null);
    return outcome;
  }

  async liveCounts(now: number): Promise<LiveCounts> {
    const row = this.db
      .prepare<[number, number, number], LiveCounts>(
        `SELECT (SELECT count(*) FROM sessions WHERE expires_at > ?) AS sessions,
                (SELECT count(*) FROM throttle WHERE scope = 'user' AND locked_until > ?) AS lockedUsers,
                (SELECT count(*) FROM throttle WHERE scope = 'addr' AND locked_until > ?) AS lockedAddrs`,
      )
      .get(now, now, now)!;
    return { sessions: row.sessions, lockedUsers: row.lockedUsers, lockedAddrs: row.lockedAddrs };
  }

  async addApp(app: { name: string; origin: string } & AppAccessSettings, now: number): Promise<App> {
    const policy = app.policy ?? "one_factor";
    const allowGroups = app.allowGroups ?? [];
    const allowUsers = app.allowUsers ?? [];
    try {
      this.stmts.addApp.run(app.name, app.origin, now, policy, allowGroups.join(","), allowUsers.join(","));
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new ConflictError(`an app with origin ${app.origin} or name "${app.name}" is already registered`);
      }
      throw error;
    }
    this.wrote(null);
    return { name: app.name, origin: app.origin, createdAt: now, policy, allowGroups, allowUsers };
  }

  async listApps(): Promise<App[]> {
    return this.stmts.listApps.all().map(toApp);
  }

  async removeApp(originOrName: string): Promise<App | null> {
    const row = this.stmts.findApp.get(originOrName, originOrName);
    if (row === undefined) return null;
    this.wrote(this.stmts.deleteApp.run(row.origin));
    return toApp(row);
  }

  // Access rules

  async updateUser(username: string, changes: UserChanges): Promise<boolean> {
    const result = this.stmts.updateUser.run({
      username,
      name: changes.name ?? null,
      email: changes.email ?? null,
      groups: changes.groups?.join(",") ?? null,
    });
    return this.wrote(result.changes > 0);
  }

  async updateApp(originOrName: string, changes: { name?: string | undefined } & AppAccessSettings): Promise<App | null> {
    const update = this.db.transaction((): App | null => {
      const row = this.stmts.findApp.get(originOrName, originOrName);
      if (row === undefined) return null;
      this.stmts.updateApp.run({
        id: row.id,
        name: changes.name ?? null,
        policy: changes.policy ?? null,
        allowGroups: changes.allowGroups?.join(",") ?? null,
        allowUsers: changes.allowUsers?.join(",") ?? null,
      });
      return toApp(this.stmts.getAppById.get(row.id)!);
    });
    try {
      return this.wrote(update.immediate());
    } catch (error) {
      if ((error as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new ConflictError(`an app named "${changes.name}" is already registered`);
      }
      throw error;
    }
  }

  async addRule(originOrName: string, rule: NewRule, now: number): Promise<StoredRule | null> {
    const add = this.db.transaction((): StoredRule | null => {
      const app = this.stmts.findApp.get(originOrName, originOrName);
      if (app === undefined) return null;
      const result = this.stmts.addRule.run(
        app.id,
        rule.path,
        rule.methods.join(","),
        rule.policy,
        rule.groups.join(","),
        rule.users.join(","),
        now,
      );
      return toRule(this.stmts.getRule.get(Number(result.lastInsertRowid))!);
    });
    return this.wrote(add.immediate());
  }

  async listRules(originOrName?: string): Promise<StoredRule[]> {
    if (originOrName === undefined) return this.stmts.listRules.all().map(toRule);
    const app = this.stmts.findApp.get(originOrName, originOrName);
    return app === undefined ? [] : this.stmts.listAppRules.all(app.id).map(toRule);
  }

  async removeRule(id: number): Promise<StoredRule | null> {
    const remove = this.db.transaction((): StoredRule | null => {
      const row = this.stmts.getRule.get(id);
      if (row === undefined) return null;
      this.stmts.deleteRule.run(id);
      return toRule(row);
    });
    return this.wrote(remove.immediate());
  }


  async createSession(session: Session, condition?: { passwordHash: string }): Promise<boolean> {
    const row = {
      id: session.id,
      username: session.username,
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
      clientAddr: session.clientAddr,
      userAgent: session.userAgent,
    };
    const result = session.anonymous
      ? this.stmts.insertAnonymousSession.run(row)
      : this.stmts.insertUserSession.run({ ...row, passwordHash: condition?.passwordHash ?? null, amr: (session.amr ?? []).join(",") });
    return result.changes > 0;
  }

  async getSession(id: string, now: number): Promise<Session | null> {
    const row = this.stmts.getSession.get(id, now);
    return row === undefined ? null : toSession(row);
  }

  async listSessions(filter: { username?: string | undefined }, now: number): Promise<Session[]> {
    const rows =
      filter.username === undefined
        ? this.stmts.listSessions.all(now)
        : this.stmts.listUserSessions.all(now, filter.username);
    return rows.map(toSession);
  }

  async deleteSession(id: string): Promise<boolean> {
    return this.wrote(this.stmts.deleteSession.run(id).changes > 0);
  }

  async deleteUserSessions(username: string): Promise<number> {
    return this.wrote(this.stmts.deleteUserSessions.run(username).changes);
  }

  async deleteAllSessions(): Promise<number> {
    return this.wrote(this.stmts.deleteAllSessions.run().changes);
  }

  async getThrottle(scope: ThrottleScope, key: string): Promise<ThrottleState | null> {
    const row = this.stmts.getThrottle.get(scope, key);
    return row === undefined ? null : toThrottle(row);
  }

  async recordFailure(scope: ThrottleScope, key: string, rule: ThrottleRule, now: number): Promise<ThrottleState> {
    const record = this.db.transaction((): ThrottleState => {
      const row = this.stmts.getThrottle.get(scope, key);
      const fresh = row === undefined || row.window_start + rule.windowSeconds <= now;
      const failures = fresh ? 1 : row.failures + 1;
      const windowStart = fresh ? now : row.window_start;
      const previousLock = row?.locked_until ?? 0;
      const lockedUntil = failures >= rule.limit ? now + rule.lockSeconds : previousLock;
      this.stmts.putThrottle.run(scope, key, failures, windowStart, lockedUntil);
      return { failures, windowStart, lockedUntil };
    });
    return record.immediate();
  }

  async clearThrottle(scope: ThrottleScope, key: string): Promise<boolean> {
    return this.stmts.clearThrottle.run(scope, key).changes > 0;
  }

  async addRetiredKey(key: RetiredKey): Promise<void> {
    this.wrote(this.stmts.addRetiredKey.run(key.kid, key.secret, key.retiredAt, key.expiresAt));
  }

  async liveRetiredKeys(now: number): Promise<RetiredKey[]> {
    return this.stmts.liveRetiredKeys
      .all(now)
      .map((row) => ({ kid: row.kid, secret: row.secret, retiredAt: row.retired_at, expiresAt: row.expires_at }));
  }

  // CAS: no cache depends on tickets, so these writes leave the change counter alone

  async createCasTicket(ticket: CasTicket): Promise<void> {
    this.stmts.insertCasTicket.run(ticket.id, ticket.sessionId, ticket.username, ticket.service, ticket.fromSso ? 1 : 0, ticket.createdAt, ticket.expiresAt);
  }

  async consumeCasTicket(id: string): Promise<CasTicket | null> {
    const row = this.stmts.consumeCasTicket.get(id);
    return row === undefined ? null : toCasTicket(row);
  }

  async takeCasTicketsOfSession(sessionId: string): Promise<CasTicket[]> {
    return this.stmts.takeCasTickets.all(sessionId).map(toCasTicket);
  }

  async takeCasTicketsOfEndedSessions(now: number): Promise<CasTicket[]> {
    return this.stmts.takeEndedCasTickets.all(now).map(toCasTicket);
  }


  async audit(event: AuditEvent): Promise<void> {
    this.stmts.audit.run(event.at, event.event, event.username ?? null, JSON.stringify(event.detail ?? {}));
  }

  async listAudit(limit: number, filter: { username?: string } = {}): Promise<AuditEvent[]> {
    const rows = filter.username === undefined ? this.stmts.listAudit.all(limit) : this.stmts.listUserAudit.all(filter.username, limit);
    return rows.map((row) => ({
      at: row.at,
      event: row.event,
      username: row.username ?? undefined,
      detail: JSON.parse(row.detail) as Record<string, unknown>,
    }));
  }

  async prune(now: number, throttleHorizonSeconds: number): Promise<void> {
    const prune = this.db.transaction(() => {
      this.stmts.pruneSessions.run(now);
      this.stmts.pruneThrottle.run(now - throttleHorizonSeconds, now);
      this.stmts.pruneKeys.run(now);
      this.stmts.pruneCasTickets.run(now);
      this.db.prepare("DELETE FROM oidc_records WHERE expires_at <= ?").run(now);
    });
    this.wrote(prune());
  }

  /** Every row `db copy` moves, read in one transaction (a consistent picture); the key comes from the caller. */
  snapshot(signingKey: string, now: number): Snapshot {
    const read = this.db.transaction((): Snapshot => ({
      signingKey,
      users: this.db
        .prepare<[], UserRow>("SELECT * FROM users ORDER BY id")
        .all()
        .map((row) => ({ ...toUser(row), passwordHash: row.password_hash })),
      apps: this.db.prepare<[], AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY id`).all().map(toApp),
      rules: this.db.prepare<[], RuleRow>(`${RULE_SELECT} ORDER BY r.id`).all().map(toRule),
      sessions: this.stmts.listSessions.all(now).map(toSession),
      throttle: this.db
        .prepare<[], ThrottleRow & { scope: string; key: string }>("SELECT * FROM throttle")
        .all()
        .map((row) => ({ scope: row.scope as ThrottleScope, key: row.key, ...toThrottle(row) })),
      retiredKeys: this.db
        .prepare<[], { kid: string; secret: string; retired_at: number; expires_at: number }>("SELECT * FROM retired_keys")
        .all()
        .map((row) => ({ kid: row.kid, secret: row.secret, retiredAt: row.retired_at, expiresAt: row.expires_at })),
      audit: this.db
        .prepare<[], { at: number; event: string; username: string | null; detail: string }>("SELECT at, event, username, detail FROM audit ORDER BY id")
        .all()
        .map((row) => ({ at: row.at, event: row.event, username: row.username ?? undefined, detail: JSON.parse(row.detail) as Record<string, unknown> })),
      casTickets: this.db
        .prepare<[number], CasTicketRow>(
          "SELECT t.id, t.session_id, t.username, t.service, t.from_sso, t.created_at, t.expires_at FROM cas_tickets t JOIN sessions s ON s.id = t.session_id WHERE s.expires_at > ?",
        )
        .all(now)
        .map(toCasTicket),
      factors: this.factors.snapshot(),
      samlSps: this.saml.snapshot(),
    }));
    return read();
  }

  async addOidcClient(client: Omit<OidcClient, "createdAt">, now: number): Promise<OidcClient> {
    try {
      this.db
        .prepare(
          `INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris, post_logout_uris, app_origin, id_token_alg, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(client.clientId, client.name, client.secretHash, JSON.stringify(client.redirectUris), JSON.stringify(client.postLogoutUris), client.appOrigin, client.idTokenAlg, now);
    } catch (error) {
      if (String((error as { code?: string }).code).startsWith("SQLITE_CONSTRAINT")) {
        throw new ConflictError(`a client named "${client.name}" already exists (names ignore case)`);
      }
      throw error;
    }
    // The login page's form-action lists client origins: a cache that depends on this table.
    return this.wrote({ ...client, createdAt: now });
  }

  async listOidcClients(): Promise<OidcClient[]> {
    return this.db.prepare<[], OidcClientRow>("SELECT * FROM oidc_clients ORDER BY name COLLATE NOCASE").all().map(toOidcClient);
  }

  async getOidcClient(clientId: string): Promise<OidcClient | null> {
    const row = this.db.prepare<[string], OidcClientRow>("SELECT * FROM oidc_clients WHERE client_id = ?").get(clientId);
    return row === undefined ? null : toOidcClient(row);
  }

  async removeOidcClient(nameOrId: string): Promise<OidcClient | null> {
    const remove = this.db.transaction((key: string) => {
      const row = this.db
        .prepare<[string, string], OidcClientRow>("SELECT * FROM oidc_clients WHERE client_id = ? OR name = ? COLLATE NOCASE")
        .get(key, key);
      if (row === undefined) return null;
      this.db.prepare("DELETE FROM oidc_clients WHERE client_id = ?").run(row.client_id);
      return toOidcClient(row);
    });
    return this.wrote(remove(nameOrId));
  }

  async oidcSubject(username: string, candidate: string): Promise<string | null> {
    const assign = this.db.transaction((name: string) => {
      this.db
        .prepare("INSERT INTO oidc_subjects (user_id, sub) SELECT id, ? FROM users WHERE username = ? ON CONFLICT (user_id) DO NOTHING")
        .run(candidate, name);
      return this.db
        .prepare<[string], string>("SELECT s.sub FROM oidc_subjects s JOIN users u ON u.id = s.user_id WHERE u.username = ?")
        .pluck()
        .get(name);
    });
    return assign.immediate(username) ?? null;
  }

  async usernameForSubject(sub: string): Promise<string | null> {
    return (
      this.db
        .prepare<[string], string>("SELECT u.username FROM oidc_subjects s JOIN users u ON u.id = s.user_id WHERE s.sub = ?")
        .pluck()
        .get(sub) ?? null
    );
  }

  async putOidcRecord(model: string, id: string, payload: string, keys: OidcRecordKeys, expiresAt: number | null): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO oidc_records (model, id, payload, grant_id, uid, user_code, account_id, expires_at, consumed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
           user_code = excluded.user_code, account_id = excluded.account_id, expires_at = excluded.expires_at`,
      )
      .run(model, id, payload, keys.grantId ?? null, keys.uid ?? null, keys.userCode ?? null, keys.accountId ?? null, expiresAt);
  }

  async findOidcRecord(model: string, id: string, now: number): Promise<OidcRecord | null> {
    const row = this.db
      .prepare<[string, string, number], { payload: string; consumed_at: number | null }>(
        "SELECT payload, consumed_at FROM oidc_records WHERE model = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)",
      )
      .get(model, id, now);
    return row === undefined ? null : { payload: row.payload, consumedAt: row.consumed_at };
  }

  async findOidcRecordBy(model: string, column: "uid" | "userCode", value: string, now: number): Promise<OidcRecord | null> {
    const sqlColumn = column === "uid" ? "uid" : "user_code";
    const row = this.db
      .prepare<[string, string, number], { payload: string; consumed_at: number | null }>(
        `SELECT payload, consumed_at FROM oidc_records WHERE model = ? AND ${sqlColumn} = ? AND (expires_at IS NULL OR expires_at > ?)`,
      )
      .get(model, value, now);
    return row === undefined ? null : { payload: row.payload, consumedAt: row.consumed_at };
  }

  async consumeOidcRecord(model: string, id: string, now: number): Promise<boolean> {
    return this.db.prepare("UPDATE oidc_records SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL").run(now, model, id).changes === 1;
  }

  async deleteOidcRecord(model: string, id: string): Promise<void> {
    this.db.prepare("DELETE FROM oidc_records WHERE model = ? AND id = ?").run(model, id);
  }

  async deleteOidcGrant(grantId: string): Promise<void> {
    this.db.prepare("DELETE FROM oidc_records WHERE grant_id = ?").run(grantId);
  }

  async deleteOidcAccount(accountId: string): Promise<number> {
    return this.db.prepare("DELETE FROM oidc_records WHERE account_id = ?").run(accountId).changes;
  }

  async deleteUserOidcRecords(username: string): Promise<number> {
    return this.db
      .prepare("DELETE FROM oidc_records WHERE account_id = (SELECT s.sub FROM oidc_subjects s JOIN users u ON u.id = s.user_id WHERE u.username = ? COLLATE NOCASE)")
      .run(username).changes;
  }

  async deleteAllOidcAccountRecords(): Promise<number> {
    return this.db.prepare("DELETE FROM oidc_records WHERE account_id IS NOT NULL").run().changes;
  }

  /** Clients and subjects, for `db copy`. */
  oidcSnapshot(): { clients: OidcClient[]; subjects: Array<{ username: string; sub: string }> } {
    const read = this.db.transaction(() => ({
      clients: this.db.prepare<[], OidcClientRow>("SELECT * FROM oidc_clients ORDER BY created_at, name").all().map(toOidcClient),
      subjects: this.db.prepare<[], { username: string; sub: string }>("SELECT u.username, s.sub FROM oidc_subjects s JOIN users u ON u.id = s.user_id").all(),
    }));
    return read();
  }

  changeCounter(): number {
    return this.stmts.dataVersion.get()! * 1_000_000 + this.localWrites;
  }

  async ping(): Promise<boolean> {
    try {
      return this.stmts.ping.get() !== undefined;
    } catch {
      return false;
    }
  }

  /** BEGIN IMMEDIATE takes the write lock at once; the methods' own transactions nest as savepoints (better-sqlite3 does that). */
  async atomically<T>(work: (store: Store) => Promise<T>): Promise<T> {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = await work(this);
      this.db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

interface OidcClientRow {
  client_id: string;
  name: string;
  secret_hash: string | null;
  redirect_uris: string;
  post_logout_uris: string;
  app_origin: string | null;
  id_token_alg: string;
  created_at: number;
}

function toOidcClient(row: OidcClientRow): OidcClient {
  return {
    clientId: row.client_id,
    name: row.name,
    secretHash: row.secret_hash,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    postLogoutUris: JSON.parse(row.post_logout_uris) as string[],
    appOrigin: row.app_origin,
    idTokenAlg: row.id_token_alg === "ES256" ? "ES256" : "RS256",
    createdAt: row.created_at,
  };
}

function toUser(row: ListedUserRow): User {
  return {
    username: row.username,
    name: row.name,
    email: row.email,
    groups: row.groups === "" ? [] : row.groups.split(","),
    disabled: row.disabled !== 0,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
  };
}

function toApp(row: AppRow): App {
  return {
    name: row.name,
    origin: row.origin,
    createdAt: row.created_at,
    policy: row.policy as Policy,
    allowGroups: splitList(row.allow_groups),
    allowUsers: splitList(row.allow_users),
  };
}

function splitList(text: string): string[] {
  return text === "" ? [] : text.split(",");
}

function toRule(row: RuleRow): StoredRule {
  return {
    id: row.id,
    app: row.app,
    origin: row.origin,
    path: row.path,
    methods: splitList(row.methods),
    policy: row.policy as Policy | null,
    groups: splitList(row.groups),
    users: splitList(row.users),
    createdAt: row.created_at,
  };
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    username: row.username,
    anonymous: row.anonymous !== 0,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    clientAddr: row.client_addr,
    userAgent: row.user_agent,
    ...(row.amr ? { amr: row.amr.split(",") } : {}),
  };
}

function toCasTicket(row: CasTicketRow): CasTicket {
  return {
    id: row.id,
    sessionId: row.session_id,
    username: row.username,
    service: row.service,
    fromSso: row.from_sso !== 0,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

function toThrottle(row: ThrottleRow): ThrottleState {
  return { failures: row.failures, windowStart: row.window_start, lockedUntil: row.locked_until };
}
