/**
 * A self-signed X.509 certificate for the IdP's signing key. SAML metadata carries keys as
 * certificates, but SPs use only the public key inside (nobody checks a chain), so a minimal
 * one is enough: version 3, a random serial, CN = the entity ID's host, RSA-SHA256, no
 * extensions. Node can parse certificates but not make them, hence this small DER writer.
 */
import { createPrivateKey, createPublicKey, createSign, randomBytes } from "node:crypto";

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const NULL = Buffer.from([0x05, 0x00]);

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const bytes: number[] = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let rest = part >> 7; rest > 0; rest >>= 7) chunk.unshift((rest & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function positiveInteger(bytes: Buffer): Buffer {
  const trimmed = bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
  return tlv(0x02, trimmed);
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function time(seconds: number): Buffer {
  const iso = new Date(seconds * 1000).toISOString();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "") + "Z";
  const year = Number(iso.slice(0, 4));
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), "ascii")) : tlv(0x18, Buffer.from(digits, "ascii"));
}

function commonName(cn: string): Buffer {
  return sequence(set(sequence(oid("2.5.4.3"), tlv(0x0c, Buffer.from(cn, "utf8")))));
}

const SHA256_WITH_RSA = sequence(oid("1.2.840.113549.1.1.11"), NULL);

/** A PEM certificate for `privateKeyPem` (RSA), valid from `notBefore` for `validSeconds`. */
export function selfSignedCertificate(privateKeyPem: string, options: { commonName: string; notBefore: number; validSeconds: number }): string {
  const privateKey = createPrivateKey(privateKeyPem);
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const serial = randomBytes(16);
  // Positive and minimal: DER refuses a leading zero byte that is not needed.
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  const name = commonName(options.commonName.slice(0, 64));
  const tbs = sequence(
    tlv(0xa0, positiveInteger(Buffer.from([2]))),
    positiveInteger(serial),
    SHA256_WITH_RSA,
    name,
    sequence(time(options.notBefore), time(options.notBefore + options.validSeconds)),
    name,
    spki,
  );
  const signature = createSign("sha256").update(tbs).sign(privateKey);
  const der = sequence(tbs, SHA256_WITH_RSA, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

/** The base64 body of a PEM certificate, as metadata's X509Certificate carries it. */
export function certificateBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
}

/** A PEM certificate from the base64 body metadata carries. */
export function certificatePem(body: string): string {
  const compact = body.replace(/\s+/g, "");
  return `-----BEGIN CERTIFICATE-----\n${compact.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}
