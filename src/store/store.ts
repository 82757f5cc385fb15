/**
 * The store: every read and write of users, apps, sessions, throttling,
 * retired keys and the audit trail. Two engines: SQLite (sqlite/, one server)
 * and PostgreSQL (postgres/, several servers on one database); callers see
 * only this interface, and test/store/conformance.ts holds both to it.
 * Times are seconds since the epoch.
 */
import type { FactorStore } from "./factors.js";
import type { SamlStore } from "./saml.js";
import type { LdapStore } from "./ldap.js";
import type { Policy } from "../access/decide.js";

export interface User {
  username: string;
  name: string;
  email: string;
  groups: string[];
  disabled: boolean;
  createdAt: number;
  lastLoginAt: number | null;
}

export interface UserWithHash extends User {
  passwordHash: string;
}

export interface NewUser {
  username: string;
  name: string;
  email: string;
  groups: string[];
  passwordHash: string;
}

// Operations: `ssoctl user import`

export interface ImportedUser extends NewUser {
  disabled: boolean;
}

export interface ImportOutcome {
  /** Usernames added. */
  created: string[];
  /** Existing users overwritten (`replace`); their sessions ended. */
  replaced: string[];
  /** Existing users left as they were (no `replace`), by their stored spelling. */
  kept: string[];
}

export interface LiveCounts {
  sessions: number;
  lockedUsers: number;
  lockedAddrs: number;
}


export interface App {
  name: string;
  origin: string;
  createdAt: number;
  // Access rules
  /** `one_factor` for every app registered before access rules. */
  policy: Policy;
  /** Who may use the app; both empty: everyone signed in. */
  allowGroups: string[];
  allowUsers: string[];
  /** Users without a second factor may not enrol one at this app's door (`app set --strict-enrolment`). */
  strictEnrolment?: boolean;
}

// Access rules
/** Who may use an app, as `app add` / `app set` give it. */
export interface AppAccessSettings {
  policy?: Policy | undefined;
  allowGroups?: string[] | undefined;
  allowUsers?: string[] | undefined;
}

export interface NewRule {
  /** Normalised with `normalizeRulePath`. */
  path: string;
  /** Upper-case; empty: every method. */
  methods: string[];
  /** Null: the app's own policy. */
  policy: Policy | null;
  groups: string[];
  users: string[];
}

export interface StoredRule extends NewRule {
  id: number;
  /** The app's name and origin. */
  app: string;
  origin: string;
  createdAt: number;
}

/** `user set`: only the fields given change. */
export interface UserChanges {
  name?: string | undefined;
  email?: string | undefined;
  groups?: string[] | undefined;
}

export interface Session {
  id: string;
  username: string;
  anonymous: boolean;
  createdAt: number;
  expiresAt: number;
  clientAddr: string;
  userAgent: string;
  // Second factor
  /** How the user signed in (the token's `amr`): ["pwd"], ["pwd","otp"], ["hwk"]; absent on rows made before. */
  amr?: string[] | undefined;
}

export interface ThrottleState {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

/**
 * `code`: wrong second-factor codes, counted apart from passwords.
 * `mail_user`, `mail_addr`: "Forgot your password?" requests, never read by sign-in.
 */
export type ThrottleScope = "user" | "addr" | "code" | "mail_user" | "mail_addr";

export interface ThrottleRule {
  limit: number;
  windowSeconds: number;
  lockSeconds: number;
}

export interface RetiredKey {
  kid: string;
  secret: string;
  retiredAt: number;
  expiresAt: number;
}

export interface AuditEvent {
  at: number;
  event: string;
  username?: string | undefined;
  detail?: Record<string, unknown> | undefined;
}

// CAS
/** A CAS service ticket as stored: who, for which exact service string, from which session and how. */
export interface CasTicket {
  id: string;
  sessionId: string;
  username: string;
  service: string;
  /** Issued from an existing session without a fresh sign-in (`renew=true` refuses these). */
  fromSso: boolean;
  createdAt: number;
  expiresAt: number;
}

/** A relying party registered with `ssoctl client add`. */
export interface OidcClient {
  clientId: string;
  name: string;
  /** SHA-256 (hex) of the secret, which is shown once and never stored; null for a public client. */
  secretHash: string | null;
  redirectUris: string[];
  postLogoutUris: string[];
  /** The registered app (origin) whose access rules apply to this client; null: none. */
  appOrigin: string | null;
  idTokenAlg: "RS256" | "ES256";
  createdAt: number;
}

/** One of oidc-provider's records (a code, token, grant, its session, an interaction…). */
export interface OidcRecord {
  /** The JSON payload exactly as oidc-provider gave it. */
  payload: string;
  consumedAt: number | null;
}

/** The columns a record is also looked up or deleted by. */
export interface OidcRecordKeys {
  grantId?: string | undefined;
  uid?: string | undefined;
  userCode?: string | undefined;
  accountId?: string | undefined;
}

export interface OidcStore {
  /** ConflictError when the name (case-insensitively) or client id exists. */
  addOidcClient(client: Omit<OidcClient, "createdAt">, now: number): Promise<OidcClient>;
  listOidcClients(): Promise<OidcClient[]>;
  getOidcClient(clientId: string): Promise<OidcClient | null>;
  /** By name or client id; null when neither matches. Its tokens stop working: the provider no longer knows the client. */
  removeOidcClient(nameOrId: string): Promise<OidcClient | null>;
  /** The user's subject, made `candidate` on first use; null when there is no such user. */
  oidcSubject(username: string, candidate: string): Promise<string | null>;
  /** The username a subject belongs to, null when its user is gone. */
  usernameForSubject(sub: string): Promise<string | null>;
  putOidcRecord(model: string, id: string, payload: string, keys: OidcRecordKeys, expiresAt: number | null): Promise<void>;
  /** Not found or expired at `now` → null. */
  findOidcRecord(model: string, id: string, now: number): Promise<OidcRecord | null>;
  findOidcRecordBy(model: string, column: "uid" | "userCode", value: string, now: number): Promise<OidcRecord | null>;
  /**
   * Marks it consumed, atomically: true for the one call that did, false when it was consumed
   * already (a replay, or the loser of two concurrent redemptions) or is gone.
   */
  consumeOidcRecord(model: string, id: string, now: number): Promise<boolean>;
  deleteOidcRecord(model: string, id: string): Promise<void>;
  deleteOidcGrant(grantId: string): Promise<void>;
  /** Every record of an account (its provider sessions, grants, tokens): on sign-out or revocation. */
  deleteOidcAccount(accountId: string): Promise<number>;
  /** Every record of the user's subject (grants, codes, tokens, provider sessions); 0 when none. */
  deleteUserOidcRecords(username: string): Promise<number>;
  /** Every account's records: `session revoke --all`. Interactions in progress stay (they hold no account). */
  deleteAllOidcAccountRecords(): Promise<number>;
}

/** What a store that also holds the provider's signing keys offers (the PostgreSQL store). */
export interface OidcKeyTable {
  oidcJwks(): Promise<string | null>;
  /** False when there are keys already. */
  createOidcJwks(jwks: string, now: number): Promise<boolean>;
  /** False when the keys are no longer `expected` (another rotation won). */
  replaceOidcJwks(next: string, expected: string, now: number): Promise<boolean>;
  changeCounter(): number;
}

export interface Store extends OidcStore {
  // Second factor (src/store/factors.ts)
  readonly factors: FactorStore;
  /** SAML service providers, request IDs and issued assertions (src/store/saml.ts). */
  readonly saml: SamlStore;
  /** Service accounts and app passwords for the LDAP interface (src/store/ldap.ts). */
  readonly ldap: LdapStore;
  createUser(user: NewUser, now: number): Promise<User>;
  getUser(username: string): Promise<UserWithHash | null>;
  listUsers(): Promise<User[]>;
  /** Yields users one by one, for listings too large to hold at once. */
  iterateUsers(): Iterable<User> | AsyncIterable<User>;
  /** Each of these returns false when there is no such user. */
  setPassword(username: string, passwordHash: string): Promise<boolean>;
  /** Replaces the hash only if it is still `expectedHash` (a rehash must not undo a concurrent `user passwd`). */
  replacePasswordHash(username: string, expectedHash: string, passwordHash: string): Promise<boolean>;
  setDisabled(username: string, disabled: boolean): Promise<boolean>;
  deleteUser(username: string): Promise<boolean>;
  recordLogin(username: string, now: number): Promise<void>;
  /**
   * Operations: writes every user in one transaction, all or nothing. An existing
   * username (ignoring case) is kept as it is, or with `replace` overwritten (profile, hash,
   * disabled) and its sessions ended. `dryRun`: the same work, rolled back.
   */
  importUsers(users: ImportedUser[], options: { replace: boolean; dryRun: boolean }, now: number): Promise<ImportOutcome>;
  /** Operations, for /metrics at scrape time: live sessions, and usernames and addresses locked at `now`. */
  liveCounts(now: number): Promise<LiveCounts>;

  addApp(app: { name: string; origin: string } & AppAccessSettings, now: number): Promise<App>;
  listApps(): Promise<App[]>;
  /** Removes by origin or by name (and its rules); false when neither matches. */
  removeApp(originOrName: string): Promise<App | null>;

  // Access rules
  /** Changes a user's name, email or groups; false when there is no such user. */
  updateUser(username: string, changes: UserChanges): Promise<boolean>;
  /** Renames an app or changes who may use it (by origin or name); null when neither matches. */
  updateApp(originOrName: string, changes: { name?: string | undefined } & AppAccessSettings): Promise<App | null>;
  /** Adds a path rule to an app (by origin or name); null when there is no such app. */
  addRule(originOrName: string, rule: NewRule, now: number): Promise<StoredRule | null>;
  /** Every rule, or one app's (by origin or name; an empty list when there is no such app), by app then id. */
  listRules(originOrName?: string): Promise<StoredRule[]>;
  removeRule(id: number): Promise<StoredRule | null>;

  /**
   * Creates a session. A non-anonymous one is created only while its user exists,
   * is enabled and (when given) still has `passwordHash`: a sign-in racing with
   * `user remove | disable | passwd` gets false instead of a session that outlives them.
   */
  createSession(session: Session, condition?: { passwordHash: string }): Promise<boolean>;
  /** A live session (not expired at `now`) or null. */
  getSession(id: string, now: number): Promise<Session | null>;
  listSessions(filter: { username?: string | undefined }, now: number): Promise<Session[]>;
  deleteSession(id: string): Promise<boolean>;
  deleteUserSessions(username: string): Promise<number>;
  deleteAllSessions(): Promise<number>;

  getThrottle(scope: ThrottleScope, key: string): Promise<ThrottleState | null>;
  /** Counts one failure; locks the key when the count reaches the rule's limit within its window. */
  recordFailure(scope: ThrottleScope, key: string, rule: ThrottleRule, now: number): Promise<ThrottleState>;
  clearThrottle(scope: ThrottleScope, key: string): Promise<boolean>;

  addRetiredKey(key: RetiredKey): Promise<void>;
  /** Keys whose grace has not ended at `now`. */
  liveRetiredKeys(now: number): Promise<RetiredKey[]>;

  // CAS
  createCasTicket(ticket: CasTicket): Promise<void>;
  /**
   * Marks a ticket used and returns it (expired or not: the caller judges); null when it is unknown
   * or was already used. One caller wins: a ticket is consumed by its first validation, right or wrong.
   */
  consumeCasTicket(id: string): Promise<CasTicket | null>;
  /** Takes (returns and deletes) every ticket issued in a session: the services single logout tells. */
  takeCasTicketsOfSession(sessionId: string): Promise<CasTicket[]>;
  /** Takes every ticket whose session has ended (expired, revoked or removed by any process): the sweep's single logout. */
  takeCasTicketsOfEndedSessions(now: number): Promise<CasTicket[]>;

  audit(event: AuditEvent): Promise<void>;
  /** The newest events first; with `username`, only that user's. */
  listAudit(limit: number, filter?: { username?: string }): Promise<AuditEvent[]>;

  /** Deletes expired sessions, stale throttling rows, retired keys past their grace, and unused expired CAS tickets. */
  prune(now: number, throttleHorizonSeconds: number): Promise<void>;
  /**
   * A number that changes whenever a write may invalidate what a cache holds: users, apps,
   * access rules, ended sessions, retired keys (any write by another connection counts). New sessions,
   * throttling counts, last-login times and audit rows do not change it, so a sign-in flood
   * does not empty the forward-auth caches. Synchronous: forward auth reads it on its hot path.
   * PostgreSQL learns of other servers' writes by notification; while it cannot, the counter
   * changes on every call, so nothing is served from a cache.
   */
  changeCounter(): number;
  ping(): Promise<boolean>;
  /**
   * Runs `work` against a view of this store inside one transaction: everything it writes
   * through that view commits together, or (it throws) nothing does. For `ssoctl apply`,
   * which calls the same functions as the single-change commands. Not for the server's
   * concurrent requests: the view holds one connection.
   */
  atomically<T>(work: (store: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Thrown for a username or app that already exists. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConflictError";
  }
}
