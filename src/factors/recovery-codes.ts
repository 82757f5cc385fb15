/**
 * Recovery codes: 10 per enrolment, shown once, stored as SHA-256 digests, each good once.
 * Each carries 80 random bits, so a plain digest is as safe to store as a slow hash would be
 * for a password: nobody can try 2^80 guesses against a stolen table.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { base32Encode } from "./totp.js";
import type { RecoveryCode } from "../store/factors.js";

export const RECOVERY_CODE_COUNT = 10;

/** Fresh codes as shown to the user: `abcd-efgh-ijkl-mnop` (16 base32 characters, 80 bits). */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => base32Encode(randomBytes(10)).toLowerCase().replace(/(.{4})(?!$)/g, "$1-"));
}

/** Case, spaces and dashes ignored; null unless 16 base32 characters remain. */
export function normalizeRecoveryCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, "").toUpperCase();
  return /^[A-Z2-7]{16}$/.test(code) ? code : null;
}

export function hashRecoveryCode(code: string): string {
  const normal = normalizeRecoveryCode(code) ?? code;
  return createHash("sha256").update("ssoctl-recovery\0").update(normal).digest("hex");
}

/** The stored code a typed one matches, compared in constant time against each; null for none. */
export function findRecoveryCode(stored: readonly RecoveryCode[], input: string): RecoveryCode | null {
  if (normalizeRecoveryCode(input) === null) return null;
  const given = Buffer.from(hashRecoveryCode(input), "hex");
  let found: RecoveryCode | null = null;
  for (const candidate of stored) {
    const expected = Buffer.from(candidate.hash, "hex");
    if (expected.length === given.length && timingSafeEqual(expected, given) && found === null) found = candidate;
  }
  return found;
}
