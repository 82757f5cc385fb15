/**
 * The second-factor part of the store: TOTP secrets and their last used step,
 * recovery codes, passkeys, short-lived pending records, invitations and settings.
 * Both engines implement it (sqlite/factors.ts, postgres/factors.ts); test/store/conformance.ts
 * holds both to it. None of these tables feeds a server cache: sign-in reads them directly.
 */

export interface TotpRecord {
  /** Base32, as the authenticator app was given it. */
  secret: string;
  /** The last time step a code was accepted for (0: none yet). */
  lastStep: number;
  createdAt: number;
}

export interface RecoveryCode {
  id: number;
  /** SHA-256 (hex) of the normalised code. */
  hash: string;
}

export interface Passkey {
  /** Credential id, base64url. */
  id: string;
  username: string;
  name: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  createdAt: number;
  lastUsedAt: number | null;
}

/** A short server-side record: a half-done sign-in, a WebAuthn challenge, an enrolment in progress. */
export interface PendingRecord {
  /** The SHA-256 of the random id the browser holds (a dump of this table is no use to anyone). */
  id: string;
  kind: string;
  username: string | null;
  data: Record<string, unknown>;
  expiresAt: number;
}

/** `invite`: an admin's invitation or `user reset`; `reset`: a "Forgot your password?" link. */
export type InvitationPurpose = "invite" | "reset";

export interface Invitation {
  username: string;
  createdAt: number;
  expiresAt: number;
  purpose: InvitationPurpose;
}

export interface FactorStore {
  getTotp(username: string): Promise<TotpRecord | null>;
  /** Enrols TOTP (replacing any) together with fresh recovery codes; false when there is no such user. */
  setTotp(username: string, secret: string, recoveryHashes: string[], now: number): Promise<boolean>;
  /** Removes TOTP and the recovery codes; false when there was none. */
  removeTotp(username: string): Promise<boolean>;
  /** Records `step` as used only when it is later than the last one used: false means a replay. */
  useTotpStep(username: string, step: number): Promise<boolean>;

  /** The recovery codes not used yet. */
  recoveryCodes(username: string): Promise<RecoveryCode[]>;
  replaceRecoveryCodes(username: string, hashes: string[]): Promise<boolean>;
  /** Marks one used, once: false when it was used already (two sign-ins racing with the same code). */
  useRecoveryCode(id: number, now: number): Promise<boolean>;

  /** False when the user does not exist or the credential id is taken. */
  addPasskey(passkey: Omit<Passkey, "lastUsedAt">): Promise<boolean>;
  getPasskey(id: string): Promise<Passkey | null>;
  listPasskeys(username: string): Promise<Passkey[]>;
  renamePasskey(username: string, id: string, name: string): Promise<boolean>;
  removePasskey(username: string, id: string): Promise<boolean>;
  /** Stores the signature counter and the time of use. */
  usePasskey(id: string, counter: number, now: number): Promise<boolean>;

  putPending(record: PendingRecord): Promise<void>;
  /** A live record of that kind, left in place. */
  getPending(id: string, kind: string, now: number): Promise<PendingRecord | null>;
  /** A live record of that kind, removed as it is read: only one caller ever gets it. */
  takePending(id: string, kind: string, now: number): Promise<PendingRecord | null>;

  /** Replaces any earlier invitation of that user; false when there is no such user. */
  createInvitation(tokenHash: string, username: string, expiresAt: number, now: number, purpose?: InvitationPurpose): Promise<boolean>;
  /** Removes the user's "Forgot your password?" links (a sign-in ends them); how many there were. */
  dropResetLinks(username: string): Promise<number>;
  /** Records that the user signed in from this browser (its id's hash); true when it was not known before. */
  rememberBrowser(username: string, browserHash: string, now: number): Promise<boolean>;
  getInvitation(tokenHash: string, now: number): Promise<Invitation | null>;
  /** Sets the password and removes every invitation of that user at once; the username, or null when used or expired. */
  acceptInvitation(tokenHash: string, passwordHash: string, now: number): Promise<string | null>;

  getSetting(key: string): Promise<string | null>;
  /** Stores `value` unless the key has one already; returns the value stored. */
  initSetting(key: string, value: string): Promise<string>;
  setSetting(key: string, value: string): Promise<void>;

  /** Deletes expired pending records and invitations. */
  pruneFactors(now: number): Promise<void>;
}
