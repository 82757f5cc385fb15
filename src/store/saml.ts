/**
 * The SAML part of the store (DESIGN §20): registered service providers, the AuthnRequest IDs
 * already answered, and the assertions issued per session (for single logout). Both engines
 * implement it (sqlite/saml.ts, postgres/saml.ts); test/store/saml-conformance.ts holds both to it.
 * The servers cache nothing from these tables, so no write here moves the change counter.
 */

export interface SamlSp {
  entityId: string;
  /** The registered app whose access rules apply. */
  appOrigin: string;
  /** The SP's metadata XML as registered. */
  metadata: string;
  /** Whether a sign-in may start at the login server (no AuthnRequest). */
  idpInitiated: boolean;
  /** HMAC key of this SP's persistent NameIDs. */
  nameIdSecret: string;
  createdAt: number;
}

/** One assertion issued: who got it, in which login server session, under which NameID. */
export interface SamlLogin {
  sessionIndex: string;
  sessionId: string;
  entityId: string;
  nameId: string;
  nameIdFormat: string;
  createdAt: number;
}

export interface SamlStore {
  /** False when an SP with that entity ID is registered already. */
  addSamlSp(sp: SamlSp): Promise<boolean>;
  /** Replaces the metadata and settings of a registered SP, keeping its NameID key; false when none. */
  updateSamlSp(sp: Omit<SamlSp, "nameIdSecret" | "createdAt">): Promise<boolean>;
  getSamlSp(entityId: string): Promise<SamlSp | null>;
  listSamlSps(): Promise<SamlSp[]>;
  removeSamlSp(entityId: string): Promise<boolean>;

  /** Remembers an AuthnRequest ID until `expiresAt`: false when it was seen already (a replay). */
  rememberSamlRequest(entityId: string, requestId: string, expiresAt: number, now: number): Promise<boolean>;

  recordSamlLogin(login: SamlLogin): Promise<void>;
  /** Removes and returns one session's logins (the single logout of a session ending here), or only one SP's. */
  takeSamlLoginsOfSession(sessionId: string, entityId?: string): Promise<SamlLogin[]>;
  /** Removes and returns the logins of sessions that are gone or expired (each to one caller only). */
  takeSamlLoginsOfEndedSessions(now: number): Promise<SamlLogin[]>;
}
