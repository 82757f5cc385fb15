/** argon2id hashing with the project's parameters; argon2 runs on libuv's thread pool, off the event loop. */
import argon2 from "argon2";
import { randomBytes } from "node:crypto";
import { normalizePassword } from "./password-policy.js";
import { isArgon2Hash, verifyForeignHash } from "./foreign-hashes.js";

export const ARGON2_PARAMS = { memoryCost: 65536, timeCost: 3, parallelism: 4 } as const;

export async function hashPassword(password: string): Promise<string> {
  return argon2.hash(normalizePassword(password), { type: argon2.argon2id, ...ARGON2_PARAMS });
}

/**
 * True only for a matching password; a malformed stored hash is a mismatch, never a throw.
 * An imported foreign hash (foreign-hashes.ts) is checked against the password as typed, as the
 * other system hashed it, and costs an argon2 verification too: a sign-in takes as long for an
 * imported user as for a native or unknown one. The login server calls this in its worker process.
 */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    if (isArgon2Hash(storedHash)) return await argon2.verify(storedHash, normalizePassword(password));
    await argon2.verify(await dummyHash(), normalizePassword(password)).catch(() => false);
    return verifyForeignHash(storedHash, password);
  } catch {
    return false;
  }
}

/** A stored hash made with other parameters (or another algorithm) is replaced at the next sign-in. */
export function needsRehash(storedHash: string): boolean {
  if (!storedHash.startsWith("$argon2id$")) return true;
  try {
    return argon2.needsRehash(storedHash, ARGON2_PARAMS);
  } catch {
    return true;
  }
}

/**
 * The hash of a random password that was thrown away, made with ARGON2_PARAMS: with it the very
 * first unknown user costs one verification like any other, not a hash plus a verification.
 */
const PRECOMPUTED_DUMMY = "$argon2id$v=19$m=65536,p=4,t=3$KzlzU2ndIhtRRhDtsuTCdQ$JKs8h5zXG8GttE65GS6mp0AfNFcBA4EkuDdgzxbUf6k";

let dummy: Promise<string> | undefined;

/** A hash of a random password, verified for unknown users so timing does not tell who exists. */
export function dummyHash(): Promise<string> {
  dummy ??= needsRehash(PRECOMPUTED_DUMMY) ? hashPassword(randomBytes(24).toString("base64url")) : Promise.resolve(PRECOMPUTED_DUMMY);
  return dummy;
}
