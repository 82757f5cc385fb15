/** Everything an installation holds, as plain rows: what `ssoctl db copy` moves from SQLite to PostgreSQL. */
import type { App, AuditEvent, CasTicket, OidcClient, RetiredKey, Session, StoredRule, ThrottleScope, ThrottleState, UserWithHash } from "./store.js";
import type { Passkey } from "./factors.js";
import type { SamlSp } from "./saml.js";

/** Second factors, passkeys, invitations and settings (pending records are minutes long and not copied). */
export interface FactorSnapshot {
  totp: Array<{ username: string; secret: string; lastStep: number; createdAt: number }>;
  recoveryCodes: Array<{ username: string; hash: string; usedAt: number | null }>;
  passkeys: Passkey[];
  invitations: Array<{ tokenHash: string; username: string; createdAt: number; expiresAt: number }>;
  settings: Array<{ key: string; value: string }>;
}

export interface Snapshot {
  signingKey: string;
  users: UserWithHash[];
  apps: App[];
  /** Access rules, by id; each names its app by origin. */
  rules: StoredRule[];
  /** Live sessions only: expired ones would be pruned anyway. */
  sessions: Session[];
  throttle: Array<{ scope: ThrottleScope; key: string } & ThrottleState>;
  retiredKeys: RetiredKey[];
  /** Oldest first. */
  audit: AuditEvent[];
  /** CAS tickets of live sessions: whom single logout tells when they end. Copied as used. */
  casTickets: CasTicket[];
  /**
   * OpenID Connect: clients, subjects and the provider's signing keys (`oidc-keys.json`).
   * The provider's codes, tokens and sessions are not copied: they are short-lived, and a signed-in
   * user's next OIDC sign-in needs no page anyway.
   */
  oidc?: { clients: OidcClient[]; subjects: Array<{ username: string; sub: string }>; jwks: string | null };
  factors?: FactorSnapshot | undefined;
  /** SAML service providers (their NameID keys too, so persistent NameIDs survive the move). */
  samlSps?: SamlSp[] | undefined;
}

export interface SnapshotCounts {
  users: number;
  apps: number;
  rules: number;
  sessions: number;
  throttle: number;
  retiredKeys: number;
  audit: number;
  casTickets: number;
}

export function countsOf(snapshot: Snapshot): SnapshotCounts {
  return {
    users: snapshot.users.length,
    apps: snapshot.apps.length,
    rules: snapshot.rules.length,
    sessions: snapshot.sessions.length,
    throttle: snapshot.throttle.length,
    retiredKeys: snapshot.retiredKeys.length,
    audit: snapshot.audit.length,
    casTickets: snapshot.casTickets.length,
  };
}
