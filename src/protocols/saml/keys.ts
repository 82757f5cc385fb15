/**
 * The IdP's signing key and its self-signed certificate. They live in the database's settings
 * (with PostgreSQL every login server then signs with the same key and publishes the same
 * metadata; with SQLite the database file is as private as `secret.key`). `init` makes them, and
 * so does the first SAML request after an upgrade; `ssoctl key rotate` puts a new key in front and keeps
 * the old certificate in the metadata until the grace ends, so SPs that refresh their copy of the
 * metadata trust the new key before it signs alone.
 */
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { SsoctlError } from "../../errors.js";
import type { FactorStore } from "../../store/factors.js";
import { selfSignedCertificate } from "./certificate.js";
import type { SigningKey } from "./signature.js";

const SETTING = "saml_signing_keys";
/** Certificates are valid long enough that none expires under a running deployment. */
const CERTIFICATE_VALID_SECONDS = 20 * 365 * 24 * 3600;

export interface SamlKeySet {
  current: SigningKey;
  /** Previous certificates, still in the metadata until `expiresAt`. */
  retired: Array<{ certificate: string; expiresAt: number }>;
}

type Settings = Pick<FactorStore, "getSetting" | "initSetting" | "setSetting">;

export function newSigningKey(commonName: string, now: number): SigningKey {
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  return { privateKey, certificate: selfSignedCertificate(privateKey, { commonName, notBefore: now - 60, validSeconds: CERTIFICATE_VALID_SECONDS }) };
}

function parseKeySet(text: string): SamlKeySet {
  let parsed: SamlKeySet;
  try {
    parsed = JSON.parse(text) as SamlKeySet;
  } catch {
    throw new SsoctlError("the SAML signing key in the database is not valid JSON; restore the database from a backup");
  }
  if (typeof parsed?.current?.privateKey !== "string" || typeof parsed.current.certificate !== "string" || !Array.isArray(parsed.retired)) {
    throw new SsoctlError("the database does not hold a usable SAML signing key; restore it from a backup");
  }
  return parsed;
}

/** The certificates the metadata publishes: the current one first, then those in their grace. */
export function publishedCertificates(set: SamlKeySet, now: number): string[] {
  return [set.current.certificate, ...set.retired.filter((r) => r.expiresAt > now).map((r) => r.certificate)];
}

/** Reads the key set, making it first when there is none. `commonName`: the host the certificate names. */
export async function ensureSamlKeys(settings: Settings, commonName: string, now: number): Promise<SamlKeySet> {
  const existing = await settings.getSetting(SETTING);
  if (existing !== null) return parseKeySet(existing);
  const created: SamlKeySet = { current: newSigningKey(commonName, now), retired: [] };
  // initSetting keeps what another process stored first: both then sign with the same key.
  return parseKeySet(await settings.initSetting(SETTING, JSON.stringify(created)));
}

/** `ssoctl key rotate`: a new key signs from now; the old certificate stays published for `graceSeconds`. */
export async function rotateSamlKeys(settings: Settings, commonName: string, graceSeconds: number, now: number): Promise<SamlKeySet> {
  const set = await ensureSamlKeys(settings, commonName, now);
  const next: SamlKeySet = {
    current: newSigningKey(commonName, now),
    retired: [{ certificate: set.current.certificate, expiresAt: now + graceSeconds }, ...set.retired.filter((r) => r.expiresAt > now)],
  };
  await settings.setSetting(SETTING, JSON.stringify(next));
  return next;
}

/** The SHA-256 fingerprint of a PEM certificate, as `openssl x509 -fingerprint -sha256` prints it. */
export function fingerprint(certificate: string): string {
  return new X509Certificate(certificate).fingerprint256;
}

/** What the certificate names: SPs use only its key, and `init` does not know the public URL yet. */
export const CERTIFICATE_NAME = "ssoctl SAML signing key";
