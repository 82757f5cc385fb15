/**
 * The PostgreSQL store (`pg`), for several login servers sharing one database.
 * A pool for queries; with `listen`, one more connection LISTENs for the changes
 * other servers and the CLI make (the tables' triggers NOTIFY in the writing
 * transaction), which is what `changeCounter()` and so every cache key on.
 */
import pg from "pg";
import { SsoctlError } from "../../errors.js";
import type { SigningKeyTable } from "../../signing-keys.js";
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
  type OidcKeyTable,
  type OidcRecord,
  type OidcRecordKeys,
} from "../store.js";
import { describePostgresError, parsePostgresUrl, type PostgresTarget } from "./connection.js";
import { applyPostgresMigrations, hasSchema } from "./migrate.js";
import type { Snapshot } from "../snapshot.js";
import { importFactorSnapshot, PostgresFactorStore } from "./factors.js";
import { importSamlSps, PostgresSamlStore } from "./saml.js";
import { PostgresLdapStore } from "./ldap.js";
import type { Policy } from "../../access/decide.js";

/** Rows per INSERT when copying: few round trips, parameters well within the protocol's limits. */
const COPY_CHUNK = 5_000;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += COPY_CHUNK) out.push(items.slice(i, i + COPY_CHUNK));
  return out;
}

/** The channel the triggers of migrations/postgres/001_initial.sql notify. */
export const CHANGES_CHANNEL = "ssoctl_changes";

/**
 * A LISTEN connection can die without a reset (a NAT or load balancer dropping an idle flow): it
 * then looks up and delivers nothing. So it repeats its `LISTEN` (a no-op that needs an answer)
 * every HEARTBEAT_MS; an answer proves every notification committed before the question arrived,
 * and no answer within HEARTBEAT_DEADLINE_MS counts as a lost connection (caches off, reconnect).
 * Caches are used only while the last proof is at most CACHE_TRUST_MS old, whatever the timers
 * manage to do.
 */
export const HEARTBEAT_MS = 1_000;
export const HEARTBEAT_DEADLINE_MS = 2_000;
export const CACHE_TRUST_MS = 3_000;
/** TCP keepalive probes on the LISTEN connection start after this much silence. */
const LISTENER_KEEPALIVE_MS = 5_000;

const INT8_OID = 20;
/** Times and ids are BIGINT; as numbers they stay exact far beyond any date or row count here. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

interface UserRow {
  username: string;
  name: string;
  email: string;
  groups: string;
  password_hash: string;
  disabled: boolean;
  created_at: number;
  last_login_at: number | null;
}

interface CasTicketRow {
  id: string;
  session_id: string;
  username: string;
  service: string;
  from_sso: boolean;
  created_at: number;
  expires_at: number;
}

interface AppRow {
  name: string;
  origin: string;
  created_at: number;
  policy: string;
  allow_groups: string;
  allow_users: string;
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

/** The app an argument names: its origin, or its name ignoring case (the lowest id if both match different apps). */
const FIND_APP_ID = "(SELECT id FROM apps WHERE origin = $1 OR lower(name) = lower($1) ORDER BY id LIMIT 1)";

interface SessionRow {
  id: string;
  username: string;
  anonymous: boolean;
  created_at: number;
  expires_at: number;
  client_addr: string;
  user_agent: string;
  amr: string;
}

export interface PostgresOpenOptions {
  /** Create the schema in a database that has none (only `init` and `db copy` do). */
  create?: boolean;
  /** Keep a LISTEN connection, so caches see other servers' writes (the login server). */
  listen?: boolean;
  /** Pool size. */
  max?: number;
  /** Called when the LISTEN connection is lost or back, for the server's log. */
  onListenChange?: (event: { connected: boolean; error?: string }) => void;
}

/** Connects, checks the schema (applying pending migrations), starts listening. Errors are one-line SsoctlErrors. */
export async function openPostgresStore(url: string, options: PostgresOpenOptions = {}, source = "--database"): Promise<PostgresStore> {
  const target = parsePostgresUrl(url, source);
  const pool = new pg.Pool({ ...target.config, max: options.max ?? 10, idleTimeoutMillis: 30_000, types });
  // An idle connection that breaks (the database restarted) is dropped from the pool; it must not crash the process.
  pool.on("error", () => {});
  // Made before the first connection, so that it knows the pid of every connection of its pool.
  const store = new PostgresStore(pool, target, options);
  try {
    const client = await pool.connect();
    try {
      if (!options.create && !(await hasSchema(client))) {
        throw new SsoctlError(`${target.where} has no ssoctl tables; run \`ssoctl init\` with this database first`);
      }
      await applyPostgresMigrations(client);
    } finally {
      client.release();
    }
  } catch (error) {
    await store.close();
    if (error instanceof SsoctlError) throw error;
    throw new SsoctlError(describePostgresError(error, target), { cause: error });
  }
  if (options.listen) await store.startListening();
  return store;
}

export class PostgresStore implements Store, SigningKeyTable, OidcKeyTable {
  private generation = 0;
  private listening = false;
  private listener: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = 50;
  private closed = false;
  private everLost = false;
  /** performance.now() when the last heartbeat that got its answer was sent. */
  private confirmedAt = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Backend pids of this pool's connections: their notifications were already counted when the write returned. */
  private readonly ownPids = new Set<number>();
  readonly factors: PostgresFactorStore;
  readonly saml: PostgresSamlStore;
  readonly ldap: PostgresLdapStore;

  constructor(
    readonly pool: pg.Pool,
    readonly target: PostgresTarget,
    private readonly options: PostgresOpenOptions = {},
  ) {
    this.factors = new PostgresFactorStore(pool, (work) => this.transaction(work), () => this.wrote(null));
    this.saml = new PostgresSamlStore(pool, (work) => this.transaction(work));
    this.ldap = new PostgresLdapStore(pool);
    pool.on("connect", (client) => {
      const pid = (client as unknown as { processID: number | null }).processID;
      if (pid !== null) this.ownPids.add(pid);
    });
    pool.on("remove", (client) => {
      const pid = (client as unknown as { processID: number | null }).processID;
      if (pid !== null) this.ownPids.delete(pid);
    });
  }

  // Change notifications

  /**
   * While listening: changes when this store writes something a cache depends on, or a
   * notification from another connection arrives. While not listening (never asked to, or the
   * connection is down): a new value on every call, so nothing is served from a cache.
   */
  changeCounter(): number {
    if (!this.isListening) this.generation += 1;
    return this.generation;
  }

  /** Whether the LISTEN connection is up and answered a heartbeat lately (caches are in use). */
  get isListening(): boolean {
    return this.listening && performance.now() - this.confirmedAt <= CACHE_TRUST_MS;
  }

  async startListening(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ ...this.target.config, types, keepAlive: true, keepAliveInitialDelayMillis: LISTENER_KEEPALIVE_MS });
    // The attempt is the current listener from the start, so a loss during it is handled once, here or there.
    this.listener = client;
    client.on("error", () => this.listenerLost(client, "error"));
    client.on("end", () => this.listenerLost(client, "connection ended"));
    client.on("notification", (message) => {
      if (!this.ownPids.has(message.processId)) this.generation += 1;
    });
    try {
      await client.connect();
      const sent = performance.now();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      this.confirmedAt = sent;
    } catch (error) {
      this.listenerLost(client, describePostgresError(error, this.target));
      return;
    }
    // Lost while starting, or the store was closed meanwhile: the loss already scheduled what follows.
    if (this.listener !== client || this.closed) return;
    // Anything written while nobody listened is unknown: start from a new value.
    this.generation += 1;
    this.listening = true;
    this.reconnectDelay = 50;
    this.startHeartbeat(client);
    if (this.everLost) this.options.onListenChange?.({ connected: true });
  }

  /** Asks the LISTEN connection for a sign of life every HEARTBEAT_MS; a missed deadline is a lost connection. */
  private startHeartbeat(client: pg.Client): void {
    let inFlight = false;
    const beat = (): void => {
      if (this.listener !== client || inFlight) return;
      inFlight = true;
      const sent = performance.now();
      const deadline = setTimeout(() => this.listenerLost(client, `no answer to the heartbeat within ${HEARTBEAT_DEADLINE_MS / 1000} s`), HEARTBEAT_DEADLINE_MS);
      deadline.unref();
      client.query(`LISTEN ${CHANGES_CHANNEL}`).then(
        () => {
          clearTimeout(deadline);
          inFlight = false;
          if (this.listener === client) this.confirmedAt = sent;
        },
        (error: unknown) => {
          clearTimeout(deadline);
          this.listenerLost(client, (error as Error).message);
        },
      );
    };
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Drops the listening connection (or the attempt at one) and schedules the next attempt. */
  private listenerLost(client: pg.Client, why: string): void {
    if (this.listener !== client) return;
    const wasListening = this.listening;
    this.listening = false;
    this.listener = null;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    void discardClient(client);
    if (wasListening) {
      this.everLost = true;
      this.options.onListenChange?.({ connected: false, error: why });
    }
    if (this.closed || this.reconnectTimer !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.startListening();
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, 2_000);
  }

  /** Counts a write a cache may depend on (this store's own notification is then ignored). */
  private wrote<T>(result: T): T {
    this.generation += 1;
    return result;
  }

  private async query<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>({ name, text, values });
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      broken = error as Error;
      await client.query("ROLLBACK").then(
        () => (broken = undefined),
        () => {},
      );
      throw error;
    } finally {
      client.release(broken);
    }
  }

  // Users

  async createUser(user: NewUser, now: number): Promise<User> {
    let row: UserRow;
    try {
      const result = await this.query<UserRow>(
        "create-user",
        `INSERT INTO users (username, name, email, groups, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING username, name, email, groups, password_hash, disabled, created_at, last_login_at`,
        [user.username, user.name, user.email, user.groups.join(","), user.passwordHash, now],
      );
      row = result.rows[0]!;
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`a user named "${user.username}" already exists (usernames ignore case)`);
      throw error;
    }
    this.wrote(null);
    return toUser(row);
  }

  async getUser(username: string): Promise<UserWithHash | null> {
    const result = await this.query<UserRow>("get-user", "SELECT * FROM users WHERE lower(username) = lower($1)", [username]);
    const row = result.rows[0];
    return row === undefined ? null : { ...toUser(row), passwordHash: row.password_hash };
  }

  async listUsers(): Promise<User[]> {
    const result = await this.query<UserRow>(
      "list-users",
      `SELECT username, name, email, groups, disabled, created_at, last_login_at FROM users ORDER BY lower(username) COLLATE "C"`,
    );
    return result.rows.map(toUser);
  }

  /** Pages through the users in name order, 1,000 at a time, so a listing never holds them all. */
  async *iterateUsers(): AsyncIterable<User> {
    let after: string | null = null;
    for (;;) {
      const result: pg.QueryResult<UserRow> = await this.query<UserRow>(
        "iterate-users",
        `SELECT username, name, email, groups, disabled, created_at, last_login_at FROM users
         WHERE $1::text IS NULL OR lower(username) COLLATE "C" > $1::text COLLATE "C"
         ORDER BY lower(username) COLLATE "C" LIMIT 1000`,
        [after],
      );
      for (const row of result.rows) yield toUser(row);
      if (result.rows.length < 1000) return;
      after = result.rows[result.rows.length - 1]!.username.toLowerCase();
    }
  }

  async setPassword(username: string, passwordHash: string): Promise<boolean> {
    const result = await this.query("set-password", "UPDATE users SET password_hash = $1 WHERE lower(username) = lower($2)", [passwordHash, username]);
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async replacePasswordHash(username: string, expectedHash: string, passwordHash: string): Promise<boolean> {
    const result = await this.query(
      "replace-password-hash",
      "UPDATE users SET password_hash = $1 WHERE lower(username) = lower($2) AND password_hash = $3",
      [passwordHash, username, expectedHash],
    );
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async setDisabled(username: string, disabled: boolean): Promise<boolean> {
    const result = await this.query("set-disabled", "UPDATE users SET disabled = $1 WHERE lower(username) = lower($2)", [disabled, username]);
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async deleteUser(username: string): Promise<boolean> {
    const removed = await this.transaction(async (client) => {
      await client.query("DELETE FROM sessions WHERE lower(username) = lower($1)", [username]);
      const result = await client.query("DELETE FROM users WHERE lower(username) = lower($1)", [username]);
      return (result.rowCount ?? 0) > 0;
    });
    return this.wrote(removed);
  }

  async recordLogin(username: string, now: number): Promise<void> {
    await this.query("record-login", "UPDATE users SET last_login_at = $1 WHERE lower(username) = lower($2)", [now, username]);
  }
  // Operations
  async importUsers(users: ImportedUser[], options: { replace: boolean; dryRun: boolean }, now: number): Promise<ImportOutcome> {
    const outcome: ImportOutcome = { created: [], replaced: [], kept: [] };
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      try {
        for (const user of users) {
          const existing = await client.query<{ username: string }>("SELECT username FROM users WHERE lower(username) = lower($1) FOR UPDATE", [user.username]);
          const groups = user.groups.join(",");
          const found = existing.rows[0]?.username;
          if (found === undefined) {
            await client.query(
              "INSERT INTO users (username, name, email, groups, password_hash, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
              [user.username, user.name, user.email, groups, user.passwordHash, user.disabled, now],
            );
            outcome.created.push(user.username);
          } else if (options.replace) {
            await client.query("UPDATE users SET name = $1, email = $2, groups = $3, password_hash = $4, disabled = $5 WHERE username = $6", [
              user.name, user.email, groups, user.passwordHash, user.disabled, found,
            ]);
            await client.query("DELETE FROM sessions WHERE lower(username) = lower($1)", [found]);
            outcome.replaced.push(found);
          } else {
            outcome.kept.push(found);
          }
        }
        await client.query(options.dryRun ? "ROLLBACK" : "COMMIT");
      } catch (error) {
        broken = error as Error;
        await client.query("ROLLBACK").then(
          () => (broken = undefined),
          () => {},
        );
        if (isUniqueViolation(error)) throw new ConflictError("two imported users have the same name (usernames ignore case)");
        throw error;
      }
    } finally {
      client.release(broken);
    }
    if (!options.dryRun && outcome.created.length + outcome.replaced.length > 0) this.wrote(null);
    return outcome;
  }

  async liveCounts(now: number): Promise<LiveCounts> {
    const result = await this.query<{ sessions: string; locked_users: string; locked_addrs: string }>(
      "live-counts",
      `SELECT (SELECT count(*) FROM sessions WHERE expires_at > $1) AS sessions,
              (SELECT count(*) FROM throttle WHERE scope = 'user' AND locked_until > $1) AS locked_users,
              (SELECT count(*) FROM throttle WHERE scope = 'addr' AND locked_until > $1) AS locked_addrs`,
      [now],
    );
    const row = result.rows[0]!;
    return { sessions: Number(row.sessions), lockedUsers: Number(row.locked_users), lockedAddrs: Number(row.locked_addrs) };
  }


  // Apps

  async addApp(app: { name: string; origin: string } & AppAccessSettings, now: number): Promise<App> {
    const policy = app.policy ?? "one_factor";
    const allowGroups = app.allowGroups ?? [];
    const allowUsers = app.allowUsers ?? [];
    try {
      await this.query(
        "add-app",
        "INSERT INTO apps (name, origin, created_at, policy, allow_groups, allow_users) VALUES ($1, $2, $3, $4, $5, $6)",
        [app.name, app.origin, now, policy, allowGroups.join(","), allowUsers.join(",")],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`an app with origin ${app.origin} or name "${app.name}" is already registered`);
      throw error;
    }
    this.wrote(null);
    return { name: app.name, origin: app.origin, createdAt: now, policy, allowGroups, allowUsers };
  }

  async listApps(): Promise<App[]> {
    const result = await this.query<AppRow>("list-apps", `SELECT ${APP_COLUMNS} FROM apps ORDER BY lower(name) COLLATE "C"`);
    return result.rows.map(toApp);
  }

  async removeApp(originOrName: string): Promise<App | null> {
    const result = await this.query<AppRow>(
      "remove-app",
      `DELETE FROM apps WHERE id = ${FIND_APP_ID} RETURNING ${APP_COLUMNS}`,
      [originOrName],
    );
    const row = result.rows[0];
    return this.wrote(row === undefined ? null : toApp(row));
  }

  // Access rules

  async updateUser(username: string, changes: UserChanges): Promise<boolean> {
    const result = await this.query(
      "update-user",
      `UPDATE users SET name = coalesce($2, name), email = coalesce($3, email), groups = coalesce($4, groups)
       WHERE lower(username) = lower($1)`,
      [username, changes.name ?? null, changes.email ?? null, changes.groups?.join(",") ?? null],
    );
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async updateApp(originOrName: string, changes: { name?: string | undefined } & AppAccessSettings): Promise<App | null> {
    let result: pg.QueryResult<AppRow>;
    try {
      result = await this.query<AppRow>(
        "update-app",
        `UPDATE apps SET name = coalesce($2, name), policy = coalesce($3, policy),
           allow_groups = coalesce($4, allow_groups), allow_users = coalesce($5, allow_users)
         WHERE id = ${FIND_APP_ID} RETURNING ${APP_COLUMNS}`,
        [
          originOrName,
          changes.name ?? null,
          changes.policy ?? null,
          changes.allowGroups?.join(",") ?? null,
          changes.allowUsers?.join(",") ?? null,
        ],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`an app named "${changes.name}" is already registered`);
      throw error;
    }
    const row = result.rows[0];
    return this.wrote(row === undefined ? null : toApp(row));
  }

  async addRule(originOrName: string, rule: NewRule, now: number): Promise<StoredRule | null> {
    const result = await this.query<RuleRow>(
      "add-rule",
      `WITH added AS (
         INSERT INTO access_rules (app_id, path, methods, policy, groups, users, created_at)
         SELECT id, $2, $3, $4, $5, $6, $7 FROM apps WHERE id = ${FIND_APP_ID}
         RETURNING *)
       SELECT r.id, a.name AS app, a.origin, r.path, r.methods, r.policy, r.groups, r.users, r.created_at
       FROM added r JOIN apps a ON a.id = r.app_id`,
      [originOrName, rule.path, rule.methods.join(","), rule.policy, rule.groups.join(","), rule.users.join(","), now],
    );
    const row = result.rows[0];
    return this.wrote(row === undefined ? null : toRule(row));
  }

  async listRules(originOrName?: string): Promise<StoredRule[]> {
    const result =
      originOrName === undefined
        ? await this.query<RuleRow>("list-rules", `${RULE_SELECT} ORDER BY lower(a.name) COLLATE "C", r.id`)
        : await this.query<RuleRow>("list-app-rules", `${RULE_SELECT} WHERE r.app_id = ${FIND_APP_ID} ORDER BY r.id`, [originOrName]);
    return result.rows.map(toRule);
  }

  async removeRule(id: number): Promise<StoredRule | null> {
    const result = await this.query<RuleRow>(
      "remove-rule",
      `WITH removed AS (DELETE FROM access_rules WHERE id = $1 RETURNING *)
       SELECT r.id, a.name AS app, a.origin, r.path, r.methods, r.policy, r.groups, r.users, r.created_at
       FROM removed r JOIN apps a ON a.id = r.app_id`,
      [id],
    );
    const row = result.rows[0];
    return this.wrote(row === undefined ? null : toRule(row));
  }


  // Sessions

  async createSession(session: Session, condition?: { passwordHash: string }): Promise<boolean> {
    const common = [session.id, session.username, session.createdAt, session.expiresAt, session.clientAddr, session.userAgent];
    const result = session.anonymous
      ? await this.query(
          "create-anonymous-session",
          `INSERT INTO sessions (id, user_id, username, anonymous, created_at, expires_at, client_addr, user_agent)
           VALUES ($1, NULL, $2, true, $3, $4, $5, $6)`,
          common,
        )
      : await this.query(
          "create-user-session",
          `INSERT INTO sessions (id, user_id, username, anonymous, created_at, expires_at, client_addr, user_agent, amr)
           SELECT $1, id, username, false, $3, $4, $5, $6, $8 FROM users
           WHERE lower(username) = lower($2) AND NOT disabled AND ($7::text IS NULL OR password_hash = $7::text)`,
          [...common, condition?.passwordHash ?? null, (session.amr ?? []).join(",")],
        );
    return (result.rowCount ?? 0) > 0;
  }

  async getSession(id: string, now: number): Promise<Session | null> {
    const result = await this.query<SessionRow>("get-session", "SELECT * FROM sessions WHERE id = $1 AND expires_at > $2", [id, now]);
    const row = result.rows[0];
    return row === undefined ? null : toSession(row);
  }

  async listSessions(filter: { username?: string | undefined }, now: number): Promise<Session[]> {
    const result = await this.query<SessionRow>(
      "list-sessions",
      `SELECT * FROM sessions WHERE expires_at > $1 AND ($2::text IS NULL OR lower(username) = lower($2::text))
       ORDER BY created_at, id COLLATE "C"`,
      [now, filter.username ?? null],
    );
    return result.rows.map(toSession);
  }

  async deleteSession(id: string): Promise<boolean> {
    const result = await this.query("delete-session", "DELETE FROM sessions WHERE id = $1", [id]);
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async deleteUserSessions(username: string): Promise<number> {
    const result = await this.query("delete-user-sessions", "DELETE FROM sessions WHERE lower(username) = lower($1)", [username]);
    return this.wrote(result.rowCount ?? 0);
  }

  async deleteAllSessions(): Promise<number> {
    const result = await this.query("delete-all-sessions", "DELETE FROM sessions");
    return this.wrote(result.rowCount ?? 0);
  }

  // Throttling

  async getThrottle(scope: ThrottleScope, key: string): Promise<ThrottleState | null> {
    const result = await this.query<{ failures: number; window_start: number; locked_until: number }>(
      "get-throttle",
      "SELECT failures, window_start, locked_until FROM throttle WHERE scope = $1 AND key = $2",
      [scope, key],
    );
    const row = result.rows[0];
    return row === undefined ? null : { failures: row.failures, windowStart: row.window_start, lockedUntil: row.locked_until };
  }

  /** One statement: concurrent failures on several servers each count (the row is locked by the upsert). */
  async recordFailure(scope: ThrottleScope, key: string, rule: ThrottleRule, now: number): Promise<ThrottleState> {
    const result = await this.query<{ failures: number; window_start: number; locked_until: number }>(
      "record-failure",
      `INSERT INTO throttle AS t (scope, key, failures, window_start, locked_until)
       VALUES ($1, $2, 1, $3, CASE WHEN 1 >= $4::int THEN $3 + $6::bigint ELSE 0 END)
       ON CONFLICT (scope, key) DO UPDATE SET
         failures = CASE WHEN t.window_start + $5::bigint <= $3 THEN 1 ELSE t.failures + 1 END,
         window_start = CASE WHEN t.window_start + $5::bigint <= $3 THEN $3 ELSE t.window_start END,
         locked_until = CASE WHEN (CASE WHEN t.window_start + $5::bigint <= $3 THEN 1 ELSE t.failures + 1 END) >= $4::int
                             THEN $3 + $6::bigint ELSE t.locked_until END
       RETURNING failures, window_start, locked_until`,
      [scope, key, now, rule.limit, rule.windowSeconds, rule.lockSeconds],
    );
    const row = result.rows[0]!;
    return { failures: row.failures, windowStart: row.window_start, lockedUntil: row.locked_until };
  }

  async clearThrottle(scope: ThrottleScope, key: string): Promise<boolean> {
    const result = await this.query("clear-throttle", "DELETE FROM throttle WHERE scope = $1 AND key = $2", [scope, key]);
    return (result.rowCount ?? 0) > 0;
  }

  // Keys

  async addRetiredKey(key: RetiredKey): Promise<void> {
    await this.query(
      "add-retired-key",
      `INSERT INTO retired_keys (kid, secret, retired_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kid) DO UPDATE SET secret = excluded.secret, retired_at = excluded.retired_at, expires_at = excluded.expires_at`,
      [key.kid, key.secret, key.retiredAt, key.expiresAt],
    );
    this.wrote(null);
  }

  async liveRetiredKeys(now: number): Promise<RetiredKey[]> {
    const result = await this.query<{ kid: string; secret: string; retired_at: number; expires_at: number }>(
      "live-retired-keys",
      "SELECT kid, secret, retired_at, expires_at FROM retired_keys WHERE expires_at > $1 ORDER BY retired_at DESC",
      [now],
    );
    return result.rows.map((row) => ({ kid: row.kid, secret: row.secret, retiredAt: row.retired_at, expiresAt: row.expires_at }));
  }

  async signingKey(): Promise<string | null> {
    const result = await this.query<{ secret: string }>("signing-key", "SELECT secret FROM signing_key WHERE id = 1");
    return result.rows[0]?.secret ?? null;
  }

  async createSigningKey(secret: string, now: number): Promise<boolean> {
    const result = await this.query(
      "create-signing-key",
      "INSERT INTO signing_key (id, secret, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
      [secret, now],
    );
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async replaceSigningKey(next: string, retired: RetiredKey): Promise<boolean> {
    const replaced = await this.transaction(async (client) => {
      const updated = await client.query("UPDATE signing_key SET secret = $1, created_at = $2 WHERE id = 1 AND secret = $3", [
        next,
        retired.retiredAt,
        retired.secret,
      ]);
      if ((updated.rowCount ?? 0) === 0) return false;
      await client.query(
        `INSERT INTO retired_keys (kid, secret, retired_at, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kid) DO UPDATE SET secret = excluded.secret, retired_at = excluded.retired_at, expires_at = excluded.expires_at`,
        [retired.kid, retired.secret, retired.retiredAt, retired.expiresAt],
      );
      return true;
    });
    return this.wrote(replaced);
  }

  // Copying an installation in

  /**
   * Writes a whole installation in one transaction, only into an empty database (no key, no rows):
   * either everything arrives or nothing does. False when the database is not empty.
   */
  async importSnapshot(snapshot: Snapshot): Promise<boolean> {
    const imported = await this.transaction(async (client) => {
      // Two copies at once must not both find the database empty.
      await client.query("LOCK TABLE signing_key, users, apps, access_rules, sessions, throttle, retired_keys, audit, cas_tickets IN EXCLUSIVE MODE");
      const rows = await client.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM signing_key) + (SELECT count(*) FROM users) + (SELECT count(*) FROM apps)
              + (SELECT count(*) FROM sessions) + (SELECT count(*) FROM throttle) + (SELECT count(*) FROM retired_keys)
              + (SELECT count(*) FROM audit) + (SELECT count(*) FROM access_rules) + (SELECT count(*) FROM cas_tickets) AS n`,
      );
      if (Number(rows.rows[0]!.n) > 0) return false;
      await client.query("INSERT INTO signing_key (id, secret, created_at) VALUES (1, $1, $2)", [snapshot.signingKey, Math.floor(Date.now() / 1000)]);
      for (const part of chunks(snapshot.users)) {
        await client.query(
          `INSERT INTO users (username, name, email, groups, password_hash, disabled, created_at, last_login_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::bigint[], $8::bigint[])`,
          [
            part.map((u) => u.username),
            part.map((u) => u.name),
            part.map((u) => u.email),
            part.map((u) => u.groups.join(",")),
            part.map((u) => u.passwordHash),
            part.map((u) => u.disabled),
            part.map((u) => u.createdAt),
            part.map((u) => u.lastLoginAt),
          ],
        );
      }
      for (const part of chunks(snapshot.apps)) {
        await client.query(
          `INSERT INTO apps (name, origin, created_at, policy, allow_groups, allow_users)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[])`,
          [
            part.map((a) => a.name),
            part.map((a) => a.origin),
            part.map((a) => a.createdAt),
            part.map((a) => a.policy),
            part.map((a) => a.allowGroups.join(",")),
            part.map((a) => a.allowUsers.join(",")),
          ],
        );
      }
      // Access rules: in id order, so they keep their order (and `rule list` its numbering's order).
      for (const part of chunks(snapshot.rules)) {
        await client.query(
          `INSERT INTO access_rules (app_id, path, methods, policy, groups, users, created_at)
           SELECT a.id, r.path, r.methods, r.policy, r.groups, r.users, r.created_at
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) WITH ORDINALITY
                AS r(origin, path, methods, policy, groups, users, created_at, n)
           JOIN apps a ON a.origin = r.origin ORDER BY r.n`,
          [
            part.map((r) => r.origin),
            part.map((r) => r.path),
            part.map((r) => r.methods.join(",")),
            part.map((r) => r.policy),
            part.map((r) => r.groups.join(",")),
            part.map((r) => r.users.join(",")),
            part.map((r) => r.createdAt),
          ],
        );
      }
      for (const part of chunks(snapshot.sessions)) {
        await client.query(
          `INSERT INTO sessions (id, user_id, username, anonymous, created_at, expires_at, client_addr, user_agent, amr)
           SELECT s.id, u.id, s.username, s.anonymous, s.created_at, s.expires_at, s.client_addr, s.user_agent, s.amr
           FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[])
                AS s(id, username, anonymous, created_at, expires_at, client_addr, user_agent, amr)
           LEFT JOIN users u ON NOT s.anonymous AND lower(u.username) = lower(s.username)
           WHERE s.anonymous OR u.id IS NOT NULL`,
          [
            part.map((x) => x.id),
            part.map((x) => x.username),
            part.map((x) => x.anonymous),
            part.map((x) => x.createdAt),
            part.map((x) => x.expiresAt),
            part.map((x) => x.clientAddr),
            part.map((x) => x.userAgent),
            part.map((x) => (x.amr ?? []).join(",")),
          ],
        );
      }
      for (const part of chunks(snapshot.throttle)) {
        await client.query(
          "INSERT INTO throttle (scope, key, failures, window_start, locked_until) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[])",
          [part.map((t) => t.scope), part.map((t) => t.key), part.map((t) => t.failures), part.map((t) => t.windowStart), part.map((t) => t.lockedUntil)],
        );
      }
      for (const part of chunks(snapshot.retiredKeys)) {
        await client.query("INSERT INTO retired_keys (kid, secret, retired_at, expires_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])", [
          part.map((k) => k.kid),
          part.map((k) => k.secret),
          part.map((k) => k.retiredAt),
          part.map((k) => k.expiresAt),
        ]);
      }
      for (const part of chunks(snapshot.audit)) {
        await client.query(
          "INSERT INTO audit (at, event, username, detail) SELECT at, event, username, detail FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS a(at, event, username, detail, n) ORDER BY n",
          [part.map((e) => e.at), part.map((e) => e.event), part.map((e) => e.username ?? null), part.map((e) => JSON.stringify(e.detail ?? {}))],
        );
      }
      // CAS: copied as used, so none can be validated a second time after the move.
      for (const part of chunks(snapshot.casTickets)) {
        await client.query(
          `INSERT INTO cas_tickets (id, session_id, username, service, from_sso, created_at, expires_at, used)
           SELECT *, true FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::bigint[], $7::bigint[])`,
          [
            part.map((t) => t.id),
            part.map((t) => t.sessionId),
            part.map((t) => t.username),
            part.map((t) => t.service),
            part.map((t) => t.fromSso),
            part.map((t) => t.createdAt),
            part.map((t) => t.expiresAt),
          ],
        );
      }
      if (snapshot.oidc !== undefined) await importOidc(client, snapshot.oidc);
      if (snapshot.factors !== undefined) await importFactorSnapshot(client, snapshot.factors);
      if (snapshot.samlSps !== undefined) await importSamlSps(client, snapshot.samlSps);
      return true;
    });
    return this.wrote(imported);
  }

  // CAS: no cache depends on tickets, so no notification and no change counted

  async createCasTicket(ticket: CasTicket): Promise<void> {
    await this.query(
      "create-cas-ticket",
      "INSERT INTO cas_tickets (id, session_id, username, service, from_sso, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      [ticket.id, ticket.sessionId, ticket.username, ticket.service, ticket.fromSso, ticket.createdAt, ticket.expiresAt],
    );
  }

  async consumeCasTicket(id: string): Promise<CasTicket | null> {
    const result = await this.query<CasTicketRow>(
      "consume-cas-ticket",
      "UPDATE cas_tickets SET used = true WHERE id = $1 AND NOT used RETURNING id, session_id, username, service, from_sso, created_at, expires_at",
      [id],
    );
    const row = result.rows[0];
    return row === undefined ? null : toCasTicket(row);
  }

  async takeCasTicketsOfSession(sessionId: string): Promise<CasTicket[]> {
    const result = await this.query<CasTicketRow>(
      "take-cas-tickets",
      "DELETE FROM cas_tickets WHERE session_id = $1 RETURNING id, session_id, username, service, from_sso, created_at, expires_at",
      [sessionId],
    );
    return result.rows.map(toCasTicket);
  }

  async takeCasTicketsOfEndedSessions(now: number): Promise<CasTicket[]> {
    const result = await this.query<CasTicketRow>(
      "take-ended-cas-tickets",
      `DELETE FROM cas_tickets t WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id AND s.expires_at > $1)
       RETURNING id, session_id, username, service, from_sso, created_at, expires_at`,
      [now],
    );
    return result.rows.map(toCasTicket);
  }


  // Audit, housekeeping

  async audit(event: AuditEvent): Promise<void> {
    await this.query("audit", "INSERT INTO audit (at, event, username, detail) VALUES ($1, $2, $3, $4)", [
      event.at,
      event.event,
      event.username ?? null,
      JSON.stringify(event.detail ?? {}),
    ]);
  }

  async listAudit(limit: number, filter: { username?: string } = {}): Promise<AuditEvent[]> {
    const result =
      filter.username === undefined
        ? await this.query<{ at: number; event: string; username: string | null; detail: string }>("list-audit", "SELECT at, event, username, detail FROM audit ORDER BY id DESC LIMIT $1", [limit])
        : await this.query<{ at: number; event: string; username: string | null; detail: string }>(
            "list-user-audit",
            "SELECT at, event, username, detail FROM audit WHERE username = $1 ORDER BY id DESC LIMIT $2",
            [filter.username, limit],
          );
    return result.rows.map((row) => ({
      at: row.at,
      event: row.event,
      username: row.username ?? undefined,
      detail: JSON.parse(row.detail) as Record<string, unknown>,
    }));
  }

  async prune(now: number, throttleHorizonSeconds: number): Promise<void> {
    await this.transaction(async (client) => {
      await client.query("DELETE FROM sessions WHERE expires_at <= $1", [now]);
      await client.query("DELETE FROM throttle WHERE window_start <= $1 AND locked_until <= $2", [now - throttleHorizonSeconds, now]);
      await client.query("DELETE FROM retired_keys WHERE expires_at <= $1", [now]);
      // Unused tickets past their minute; tickets of ended sessions are the single-logout sweep's to take.
      await client.query("DELETE FROM cas_tickets WHERE NOT used AND expires_at <= $1", [now]);
      await client.query("DELETE FROM oidc_records WHERE expires_at <= $1", [now]);
    });
    this.wrote(null);
  }

  async addOidcClient(client: Omit<OidcClient, "createdAt">, now: number): Promise<OidcClient> {
    try {
      await this.query(
        "add-oidc-client",
        `INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris, post_logout_uris, app_origin, id_token_alg, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [client.clientId, client.name, client.secretHash, JSON.stringify(client.redirectUris), JSON.stringify(client.postLogoutUris), client.appOrigin, client.idTokenAlg, now],
      );
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`a client named "${client.name}" already exists (names ignore case)`);
      throw error;
    }
    return this.wrote({ ...client, createdAt: now });
  }

  async listOidcClients(): Promise<OidcClient[]> {
    const result = await this.query<OidcClientRow>("list-oidc-clients", `SELECT * FROM oidc_clients ORDER BY lower(name) COLLATE "C"`);
    return result.rows.map(toOidcClient);
  }

  async getOidcClient(clientId: string): Promise<OidcClient | null> {
    const result = await this.query<OidcClientRow>("get-oidc-client", "SELECT * FROM oidc_clients WHERE client_id = $1", [clientId]);
    return result.rows[0] === undefined ? null : toOidcClient(result.rows[0]);
  }

  async removeOidcClient(nameOrId: string): Promise<OidcClient | null> {
    const result = await this.query<OidcClientRow>(
      "remove-oidc-client",
      "DELETE FROM oidc_clients WHERE client_id = $1 OR lower(name) = lower($1) RETURNING *",
      [nameOrId],
    );
    return this.wrote(result.rows[0] === undefined ? null : toOidcClient(result.rows[0]));
  }

  async oidcSubject(username: string, candidate: string): Promise<string | null> {
    await this.query(
      "assign-oidc-subject",
      "INSERT INTO oidc_subjects (user_id, sub) SELECT id, $1 FROM users WHERE lower(username) = lower($2) ON CONFLICT (user_id) DO NOTHING",
      [candidate, username],
    );
    const result = await this.query<{ sub: string }>(
      "oidc-subject",
      "SELECT s.sub FROM oidc_subjects s JOIN users u ON u.id = s.user_id WHERE lower(u.username) = lower($1)",
      [username],
    );
    return result.rows[0]?.sub ?? null;
  }

  async usernameForSubject(sub: string): Promise<string | null> {
    const result = await this.query<{ username: string }>(
      "oidc-subject-user",
      "SELECT u.username FROM oidc_subjects s JOIN users u ON u.id = s.user_id WHERE s.sub = $1",
      [sub],
    );
    return result.rows[0]?.username ?? null;
  }

  async putOidcRecord(model: string, id: string, payload: string, keys: OidcRecordKeys, expiresAt: number | null): Promise<void> {
    await this.query(
      "put-oidc-record",
      `INSERT INTO oidc_records (model, id, payload, grant_id, uid, user_code, account_id, expires_at, consumed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)
       ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid,
         user_code = excluded.user_code, account_id = excluded.account_id, expires_at = excluded.expires_at`,
      [model, id, payload, keys.grantId ?? null, keys.uid ?? null, keys.userCode ?? null, keys.accountId ?? null, expiresAt],
    );
  }

  async findOidcRecord(model: string, id: string, now: number): Promise<OidcRecord | null> {
    const result = await this.query<{ payload: string; consumed_at: number | null }>(
      "find-oidc-record",
      "SELECT payload, consumed_at FROM oidc_records WHERE model = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)",
      [model, id, now],
    );
    const row = result.rows[0];
    return row === undefined ? null : { payload: row.payload, consumedAt: row.consumed_at };
  }

  async findOidcRecordBy(model: string, column: "uid" | "userCode", value: string, now: number): Promise<OidcRecord | null> {
    const sqlColumn = column === "uid" ? "uid" : "user_code";
    const result = await this.query<{ payload: string; consumed_at: number | null }>(
      `find-oidc-record-by-${sqlColumn}`,
      `SELECT payload, consumed_at FROM oidc_records WHERE model = $1 AND ${sqlColumn} = $2 AND (expires_at IS NULL OR expires_at > $3)`,
      [model, value, now],
    );
    const row = result.rows[0];
    return row === undefined ? null : { payload: row.payload, consumedAt: row.consumed_at };
  }

  async consumeOidcRecord(model: string, id: string, now: number): Promise<boolean> {
    // Two concurrent updates of the row: the second waits for the first, then finds consumed_at set.
    const result = await this.query("consume-oidc-record", "UPDATE oidc_records SET consumed_at = $1 WHERE model = $2 AND id = $3 AND consumed_at IS NULL", [now, model, id]);
    return result.rowCount === 1;
  }

  async deleteOidcRecord(model: string, id: string): Promise<void> {
    await this.query("delete-oidc-record", "DELETE FROM oidc_records WHERE model = $1 AND id = $2", [model, id]);
  }

  async deleteOidcGrant(grantId: string): Promise<void> {
    await this.query("delete-oidc-grant", "DELETE FROM oidc_records WHERE grant_id = $1", [grantId]);
  }

  async deleteOidcAccount(accountId: string): Promise<number> {
    const result = await this.query("delete-oidc-account", "DELETE FROM oidc_records WHERE account_id = $1", [accountId]);
    return result.rowCount ?? 0;
  }

  async deleteUserOidcRecords(username: string): Promise<number> {
    const result = await this.query(
      "delete-user-oidc-records",
      "DELETE FROM oidc_records WHERE account_id = (SELECT s.sub FROM oidc_subjects s JOIN users u ON u.id = s.user_id WHERE lower(u.username) = lower($1))",
      [username],
    );
    return result.rowCount ?? 0;
  }

  async deleteAllOidcAccountRecords(): Promise<number> {
    const result = await this.query("delete-all-oidc-account-records", "DELETE FROM oidc_records WHERE account_id IS NOT NULL");
    return result.rowCount ?? 0;
  }

  async oidcJwks(): Promise<string | null> {
    const result = await this.query<{ jwks: string }>("oidc-jwks", "SELECT jwks FROM oidc_signing_keys WHERE id = 1");
    return result.rows[0]?.jwks ?? null;
  }

  async createOidcJwks(jwks: string, now: number): Promise<boolean> {
    const result = await this.query(
      "create-oidc-jwks",
      "INSERT INTO oidc_signing_keys (id, jwks, updated_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
      [jwks, now],
    );
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async replaceOidcJwks(next: string, expected: string, now: number): Promise<boolean> {
    const result = await this.query(
      "replace-oidc-jwks",
      "UPDATE oidc_signing_keys SET jwks = $1, updated_at = $2 WHERE id = 1 AND jwks = $3",
      [next, now, expected],
    );
    return this.wrote((result.rowCount ?? 0) > 0);
  }

  async ping(): Promise<boolean> {
    try {
      await this.query("ping", "SELECT 1");
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A second store over one connection in a transaction: its queries, and the transactions of its
   * methods (as savepoints), all run there, so every method works unchanged inside it.
   */
  async atomically<T>(work: (store: Store) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const view = new PostgresStore(oneConnectionPool(client), this.target);
      const result = await work(view);
      await client.query("COMMIT");
      this.wrote(null);
      return result;
    } catch (error) {
      broken = error as Error;
      await client.query("ROLLBACK").then(
        () => (broken = undefined),
        () => {},
      );
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listening = false;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) await discardClient(listener);
    await this.pool.end().catch(() => {});
  }
}

/** `db copy`, OpenID Connect part: clients, subjects (joined to the users just copied) and the signing keys. */
async function importOidc(client: pg.PoolClient, oidc: NonNullable<Snapshot["oidc"]>): Promise<void> {
  for (const c of oidc.clients) {
    await client.query(
      `INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris, post_logout_uris, app_origin, id_token_alg, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [c.clientId, c.name, c.secretHash, JSON.stringify(c.redirectUris), JSON.stringify(c.postLogoutUris), c.appOrigin, c.idTokenAlg, c.createdAt],
    );
  }
  for (const part of chunks(oidc.subjects)) {
    await client.query(
      `INSERT INTO oidc_subjects (user_id, sub)
       SELECT u.id, s.sub FROM unnest($1::text[], $2::text[]) AS s(username, sub) JOIN users u ON lower(u.username) = lower(s.username)`,
      [part.map((s) => s.username), part.map((s) => s.sub)],
    );
  }
  if (oidc.jwks !== null) {
    await client.query("INSERT INTO oidc_signing_keys (id, jwks, updated_at) VALUES (1, $1, $2)", [oidc.jwks.trim(), Math.floor(Date.now() / 1000)]);
  }
}

/** Ends a client whose events no longer matter; a late error from it must not crash the process. */
/** Ends a client; one whose connection stalled (no answer to the goodbye either) has its socket destroyed. */
async function discardClient(client: pg.Client): Promise<void> {
  client.removeAllListeners("notification");
  client.removeAllListeners("end");
  client.removeAllListeners("error");
  client.on("error", () => {});
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<"stalled">((resolve) => (timer = setTimeout(() => resolve("stalled"), 1_000)));
  const ended = await Promise.race([client.end().then(() => "ended" as const, () => "ended" as const), stalled]);
  clearTimeout(timer);
  if (ended === "stalled") (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string })?.code === "23505";
}

function toUser(row: Omit<UserRow, "password_hash">): User {
  return {
    username: row.username,
    name: row.name,
    email: row.email,
    groups: row.groups === "" ? [] : row.groups.split(","),
    disabled: row.disabled,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
  };
}

function toCasTicket(row: CasTicketRow): CasTicket {
  return {
    id: row.id,
    sessionId: row.session_id,
    username: row.username,
    service: row.service,
    fromSso: row.from_sso,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
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

function splitList(text: string): string[] {
  return text === "" ? [] : text.split(",");
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
    anonymous: row.anonymous,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    clientAddr: row.client_addr,
    userAgent: row.user_agent,
    ...(row.amr ? { amr: row.amr.split(",") } : {}),
  };
}

/**
 * What PostgresStore needs of a pool, over one connection already in a transaction: a method's
 * own BEGIN / COMMIT / ROLLBACK become a savepoint, its release, and a rollback to it.
 */
function oneConnectionPool(client: pg.PoolClient): pg.Pool {
  const savepoints: string[] = [];
  let counter = 0;
  const query = (config: unknown, values?: unknown): Promise<unknown> => {
    const text = typeof config === "string" ? config : undefined;
    if (text === "BEGIN") {
      const name = `ssoctl_${++counter}`;
      savepoints.push(name);
      return client.query(`SAVEPOINT ${name}`);
    }
    if (text === "COMMIT") return client.query(`RELEASE SAVEPOINT ${savepoints.pop()}`);
    if (text === "ROLLBACK") {
      const name = savepoints.pop();
      return client.query(`ROLLBACK TO SAVEPOINT ${name}`).then(() => client.query(`RELEASE SAVEPOINT ${name}`));
    }
    return (client.query as (config: unknown, values?: unknown) => Promise<unknown>)(config, values);
  };
  const connection = { query, release: () => {} };
  return { query, connect: async () => connection, on: () => undefined, end: async () => {} } as unknown as pg.Pool;
}
