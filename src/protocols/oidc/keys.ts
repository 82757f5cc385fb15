/**
 * The OpenID provider's signing keys: an RSA key (RS256, the default for ID tokens) and a P-256 key
 * (ES256, on a client's request), as private JWKs. With SQLite they live in `oidc-keys.json` in the
 * data directory (0600, like `secret.key`); with PostgreSQL in the database, so every login server
 * signs with the same keys and publishes the same JWKS. `ssoctl key rotate` puts new keys in front
 * (the first key of each algorithm signs) and keeps the old ones published until the grace ends, so
 * ID tokens signed just before still verify at the relying parties.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { createPrivateFile, isErrno, replacePrivateFile, type DataDir } from "../../data-dir.js";
import { SsoctlError } from "../../errors.js";
import type { OidcKeyTable } from "../../store/store.js";

export const OIDC_KEYS_FILE = "oidc-keys.json";

/** A private JWK as node:crypto exports it, with its id and algorithm. */
export type PrivateJwk = Record<string, unknown> & { kid: string; alg: "RS256" | "ES256"; use: "sig" };

export interface OidcKeySet {
  /** Signing keys, newest first. */
  current: PrivateJwk[];
  /** Previous keys, still published until `expiresAt`. */
  retired: Array<{ key: PrivateJwk; expiresAt: number }>;
}

/** Where the key set is kept. */
export interface OidcKeyStorage {
  readonly origin: string;
  /** Cheap; changes whenever the keys may have changed. */
  stamp(): string;
  read(): Promise<string | null>;
  /** False when there are keys already (nothing is ever overwritten). */
  create(text: string, now: number): Promise<boolean>;
  /** False when the stored text is no longer `expected`. */
  replace(next: string, expected: string, now: number): Promise<boolean>;
}

function newKeyId(alg: string, now: number): string {
  return `${alg.toLowerCase()}-${new Date(now * 1000).toISOString().slice(0, 10)}-${randomBytes(4).toString("hex")}`;
}

/** A new RSA-2048 and P-256 key pair. */
export function newSigningKeys(now: number): PrivateJwk[] {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  return [
    { ...rsa, kid: newKeyId("RS256", now), alg: "RS256", use: "sig" },
    { ...ec, kid: newKeyId("ES256", now), alg: "ES256", use: "sig" },
  ];
}

export function parseKeySet(text: string, where: string): OidcKeySet {
  let parsed: OidcKeySet;
  try {
    parsed = JSON.parse(text) as OidcKeySet;
  } catch {
    throw new SsoctlError(`${where} is not valid JSON; restore it from a backup`);
  }
  const valid =
    Array.isArray(parsed?.current) &&
    Array.isArray(parsed.retired) &&
    parsed.current.some((k) => k?.alg === "RS256" && typeof k.kid === "string" && typeof k.d === "string");
  if (!valid) throw new SsoctlError(`${where} does not hold the OpenID Connect signing keys; restore it from a backup`);
  return parsed;
}

/** The keys oidc-provider is given: current ones first (they sign), then those still in their grace. */
export function providerJwks(set: OidcKeySet, now: number): PrivateJwk[] {
  return [...set.current, ...set.retired.filter((r) => r.expiresAt > now).map((r) => r.key)];
}

/** New keys in front; the current ones kept for `graceSeconds`; expired ones dropped. */
export function rotatedKeySet(set: OidcKeySet, graceSeconds: number, now: number): OidcKeySet {
  return {
    current: newSigningKeys(now),
    retired: [...set.current.map((key) => ({ key, expiresAt: now + graceSeconds })), ...set.retired.filter((r) => r.expiresAt > now)],
  };
}

/** Reads the keys, making them first when there are none (`init`, or the first start after an upgrade). */
export async function ensureOidcKeys(storage: OidcKeyStorage, now: number): Promise<OidcKeySet> {
  const existing = await storage.read();
  if (existing !== null) return parseKeySet(existing, storage.origin);
  const created: OidcKeySet = { current: newSigningKeys(now), retired: [] };
  if (await storage.create(JSON.stringify(created), now)) return created;
  // Another process made them meanwhile: use theirs.
  const theirs = await storage.read();
  if (theirs === null) throw new SsoctlError(`cannot create ${storage.origin}`);
  return parseKeySet(theirs, storage.origin);
}

/** `ssoctl key rotate`: the provider's keys too. Returns the new key ids. */
export async function rotateOidcKeys(storage: OidcKeyStorage, graceSeconds: number, now: number): Promise<string[]> {
  const text = await storage.read();
  if (text === null) {
    const created = await ensureOidcKeys(storage, now);
    return created.current.map((k) => k.kid);
  }
  const next = rotatedKeySet(parseKeySet(text, storage.origin), graceSeconds, now);
  if (!(await storage.replace(JSON.stringify(next), text, now))) {
    throw new SsoctlError(`the OpenID Connect keys changed while rotating them (another \`key rotate\` at the same time?); try again`);
  }
  return next.current.map((k) => k.kid);
}

/** `oidc-keys.json` in the data directory. */
export class FileOidcKeys implements OidcKeyStorage {
  readonly origin: string;
  private readonly file: string;

  constructor(dataDir: DataDir) {
    this.file = path.join(dataDir.dir, OIDC_KEYS_FILE);
    this.origin = this.file;
  }

  stamp(): string {
    try {
      const stat = fs.statSync(this.file);
      return `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    } catch {
      return "absent";
    }
  }

  async read(): Promise<string | null> {
    try {
      return fs.readFileSync(this.file, "utf8");
    } catch (error) {
      if (isErrno(error, "ENOENT")) return null;
      throw new SsoctlError(`cannot read ${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }

  async create(text: string): Promise<boolean> {
    if (fs.existsSync(this.file)) return false;
    try {
      createPrivateFile(this.file, text + "\n");
      return true;
    } catch (error) {
      if (isErrno((error as Error).cause, "EEXIST")) return false;
      throw error;
    }
  }

  async replace(next: string, expected: string): Promise<boolean> {
    if ((await this.read()) !== expected) return false;
    replacePrivateFile(this.file, next + "\n");
    return true;
  }
}

/** The keys in the database (PostgreSQL): every login server on it uses the same ones. */
export class DatabaseOidcKeys implements OidcKeyStorage {
  readonly origin = "the OpenID Connect keys in the database";

  constructor(private readonly table: OidcKeyTable) {}

  stamp(): string {
    return String(this.table.changeCounter());
  }

  async read(): Promise<string | null> {
    return this.table.oidcJwks();
  }

  async create(text: string, now: number): Promise<boolean> {
    return this.table.createOidcJwks(text, now);
  }

  async replace(next: string, expected: string, now: number): Promise<boolean> {
    return this.table.replaceOidcJwks(next, expected, now);
  }
}
