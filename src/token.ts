/**
 * The login token: a JWT signed HS256 whose HMAC key is the text of
 * `secret.key` (its UTF-8 bytes), so any JWT library verifies it.
 * jose does the parsing and signature checks; this module fixes the rules.
 * No I/O, so the guard can import it without SQLite or argon2.
 */
import { createHash } from "node:crypto";
import { SignJWT, jwtVerify, decodeProtectedHeader } from "jose";

export interface LoginClaims {
  username: string;
  sessionId: string;
  issuedAt: number;
  expiresAt: number;
  issuer: string;
  anonymous: boolean;
  /**
   * `aud`: the origin of the app that minted an anonymous token, the only app that accepts it.
   * Required on anonymous tokens, absent on sign-ins.
   */
  audience?: string | undefined;
  /** `groups`: the user's groups when the token was signed (sign-ins only), for in-process guards. */
  groups?: readonly string[] | undefined;
  /** `amr`: how the user authenticated (`["pwd"]` for a password), for in-process guards. */
  amr?: readonly string[] | undefined;
}

/** Longer tokens are refused unread: ours are a few hundred bytes. */
export const MAX_TOKEN_LENGTH = 4096;

const encoder = new TextEncoder();

/** The `kid` of a key: a short digest, so a verifier picks the key without trying each. */
export function keyId(secret: string): string {
  return createHash("sha256").update("ssoctl-kid\0").update(secret).digest("base64url").slice(0, 16);
}

/** The `kid` a token's header names, without checking anything else; undefined when unreadable. */
export function tokenKeyId(token: string): string | undefined {
  try {
    const kid = decodeProtectedHeader(token).kid;
    return typeof kid === "string" ? kid : undefined;
  } catch {
    return undefined;
  }
}

export async function signToken(claims: LoginClaims, secret: string): Promise<string> {
  const payload: Record<string, unknown> = { sid: claims.sessionId };
  if (claims.anonymous) {
    // An anonymous token without its app would be accepted wherever anonymous access is on.
    if (claims.audience === undefined || claims.audience === "") throw new TypeError("an anonymous token needs the origin of its app (audience)");
    payload.anon = true;
    payload.aud = claims.audience;
  } else if (claims.audience !== undefined) {
    throw new TypeError("only anonymous tokens carry an audience");
  } else {
    // Access rules: what an in-process guard needs to apply allowGroups and twoFactor.
    if (claims.groups !== undefined) payload.groups = [...claims.groups];
    if (claims.amr !== undefined) payload.amr = [...claims.amr];
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: keyId(secret) })
    .setSubject(claims.username)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .setIssuer(claims.issuer)
    .sign(encoder.encode(secret));
}

export interface VerifyOptions {
  /** Secrets that verify: the current key first, then any still in their grace. */
  secrets: readonly string[];
  /** When set, the `iss` claim must equal it. */
  issuer?: string | undefined;
  /** Seconds since the epoch; defaults to the clock. */
  now?: number | undefined;
  /**
   * Asked once when a token names a key not in `secrets` (a rotation this process has not
   * noticed yet): resolves to the keys to try again with. Only {@link VerifiedTokenCache} asks.
   */
  refreshKeys?: (() => Promise<readonly string[]>) | undefined;
}

/** Verifies a token; returns null for anything not valid. Never throws. */
export async function verifyToken(token: string, options: VerifyOptions): Promise<LoginClaims | null> {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== "HS256") return null;
    kid = header.kid;
  } catch {
    return null;
  }
  const secret = options.secrets.find((candidate) => keyId(candidate) === kid);
  if (secret === undefined) return null;
  try {
    const { payload } = await jwtVerify(token, encoder.encode(secret), {
      algorithms: ["HS256"],
      issuer: options.issuer,
      currentDate: options.now === undefined ? undefined : new Date(options.now * 1000),
      requiredClaims: ["sub", "sid", "iat", "exp"],
      clockTolerance: 0,
    });
    if (typeof payload.sub !== "string" || payload.sub === "") return null;
    if (typeof payload.sid !== "string" || payload.sid === "") return null;
    if (typeof payload.iat !== "number" || typeof payload.exp !== "number") return null;
    if (payload.anon !== undefined && payload.anon !== true) return null;
    const anonymous = payload.anon === true;
    // Anonymous: bound to one app's origin. A sign-in: bound to no app, so it carries no `aud`.
    if (anonymous ? typeof payload.aud !== "string" || payload.aud === "" : payload.aud !== undefined) return null;
    if (!isOptionalStringList(payload.groups) || !isOptionalStringList(payload.amr)) return null;
    if (anonymous && (payload.groups !== undefined || payload.amr !== undefined)) return null;
    return {
      username: payload.sub,
      sessionId: payload.sid,
      issuedAt: payload.iat,
      expiresAt: payload.exp,
      issuer: typeof payload.iss === "string" ? payload.iss : "",
      anonymous,
      ...(anonymous ? { audience: payload.aud as string } : {}),
      ...(payload.groups !== undefined ? { groups: payload.groups as string[] } : {}),
      ...(payload.amr !== undefined ? { amr: payload.amr as string[] } : {}),
    };
  } catch {
    return null;
  }
}

/** Absent, or an array of at most 256 strings: anything else makes the token invalid. */
function isOptionalStringList(value: unknown): boolean {
  return value === undefined || (Array.isArray(value) && value.length <= 256 && value.every((item) => typeof item === "string"));
}

/**
 * Remembers tokens already verified, so the hot path (forward auth, the guard)
 * does one map lookup per request. An entry holds until the token's `exp`, and
 * the whole cache empties when the key set changes.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, LoginClaims>();
  private keysSeen: readonly string[] = [];

  constructor(private readonly capacity = 10_000) {}

  /**
   * The claims of a token this cache already verified with these secrets, still valid at `now`;
   * undefined when only `verify` can tell (never verified, expired, other keys or issuer).
   * Synchronous, for the hot path.
   */
  peek(token: string, secrets: readonly string[], issuer: string | undefined, now: number): LoginClaims | undefined {
    if (secrets !== this.keysSeen) return undefined;
    const cached = this.entries.get(token);
    if (cached === undefined || cached.expiresAt <= now) return undefined;
    if (issuer !== undefined && cached.issuer !== issuer) return undefined;
    return cached;
  }

  async verify(token: string, options: VerifyOptions): Promise<LoginClaims | null> {
    if (options.secrets !== this.keysSeen) {
      this.entries.clear();
      this.keysSeen = options.secrets;
    }
    const now = options.now ?? Math.floor(Date.now() / 1000);
    const cached = this.entries.get(token);
    if (cached !== undefined) {
      // The cache is keyed on the token alone, so the issuer rule is applied again on a hit.
      if (options.issuer !== undefined && cached.issuer !== options.issuer) return null;
      if (cached.expiresAt > now) return cached;
      this.entries.delete(token);
      return null;
    }
    const claims = await verifyToken(token, { ...options, now });
    if (claims === null) return this.verifyWithNewerKeys(token, { ...options, now });
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, claims);
    return claims;
  }

  /** A token under a key this process has not seen yet gets one more try once the keys are looked up again. */
  private async verifyWithNewerKeys(token: string, options: VerifyOptions): Promise<LoginClaims | null> {
    if (options.refreshKeys === undefined) return null;
    const kid = tokenKeyId(token);
    // A known kid failed on its own merits (signature, expiry, claims): nothing newer would change that.
    if (kid === undefined || options.secrets.some((secret) => keyId(secret) === kid)) return null;
    const secrets = await options.refreshKeys();
    if (secrets === options.secrets) return null;
    return this.verify(token, { ...options, secrets, refreshKeys: undefined });
  }
}
