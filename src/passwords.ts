/**
 * argon2id hashing with the project's parameters; argon2 runs on libuv's thread pool, off the event loop.
 * argon2 and the foreign-hash libraries load at the first hash or check: the login server never
 * hashes in its own process (its worker does), and only needs `needsRehash` and `dummyHash` here.
 */
import { randomBytes } from "node:crypto";
import { normalizePassword } from "./password-policy.js";

export const ARGON2_PARAMS = { memoryCost: 65536, timeCost: 3, parallelism: 4 } as const;
const ARGON2_VERSION = 19;

async function argon2(): Promise<typeof import("argon2")> {
  return (await import("argon2")).default;
}

export async function hashPassword(password: string): Promise<string> {
  const a = await argon2();
  return a.hash(normalizePassword(password), { type: a.argon2id, ...ARGON2_PARAMS });
}

/** Checks an imported foreign hash; the login server's worker does it on a thread of its own. */
export type ForeignCheck = (storedHash: string, password: string) => Promise<boolean>;

const inline: ForeignCheck = async (storedHash, password) => (await import("./foreign-hashes.js")).verifyForeignHash(storedHash, password);

/** An argon2 hash (verified by argon2 itself), as opposed to an imported foreign one. */
function isArgon2Hash(hash: string): boolean {
  return hash.startsWith("$argon2");
}

/**
 * True only for a matching password; a malformed stored hash is a mismatch, never a throw.
 * An imported foreign hash (foreign-hashes.ts) is checked against the password as typed, as the
 * other system hashed it, and costs an argon2 verification too: a sign-in takes as long for an
 * imported user as for a native or unknown one. The login server calls this in its worker process.
 */
export async function verifyPassword(storedHash: string, password: string, options: { foreign?: ForeignCheck } = {}): Promise<boolean> {
  try {
    const a = await argon2();
    if (isArgon2Hash(storedHash)) return await a.verify(storedHash, normalizePassword(password));
    // Started first, so a foreign check on its own thread runs beside the dummy argon2 rather than after it.
    const foreign = (options.foreign ?? inline)(storedHash, password);
    foreign.catch(() => {});
    await a.verify(await dummyHash(), normalizePassword(password)).catch(() => false);
    return await foreign;
  } catch {
    return false;
  }
}

const PHC_PARAMS = /^\$argon2id\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$/;

/**
 * A stored hash made with other parameters (or another algorithm) is replaced at the next sign-in.
 * Read from the PHC string as argon2's own needsRehash does (version, m, t, p), without loading argon2.
 */
export function needsRehash(storedHash: string): boolean {
  const match = PHC_PARAMS.exec(storedHash);
  if (match === null) return true;
  const params = new Map(match[2]!.split(",").map((pair) => [pair[0], Number(pair.slice(2))] as const));
  return (
    Number(match[1]) !== ARGON2_VERSION ||
    params.get("m") !== ARGON2_PARAMS.memoryCost ||
    params.get("t") !== ARGON2_PARAMS.timeCost ||
    params.get("p") !== ARGON2_PARAMS.parallelism
  );
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
