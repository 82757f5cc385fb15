/**
 * Password hashes made by other systems, kept by `ssoctl user import` until the
 * user's first sign-in replaces them with argon2id: bcrypt, Apache's apr1 MD5,
 * `{SHA}` (SHA-1), sha-crypt `$5$`/`$6$`, and Authelia's `$pbkdf2-*$`. Every
 * check here is synchronous CPU work: the login server runs it in its password
 * worker process (password-worker.ts), never on the server's event loop.
 *
 * Cost limits keep a hostile import file from planting a hash that takes
 * seconds (or gigabytes) to verify at each sign-in: each is the cost the other
 * system writes by default, or a little above (about half a second here).
 */
import bcrypt from "bcryptjs";
import apacheMd5 from "apache-md5";
import { verify as verifyShaCrypt } from "unixcrypt";
import { createHash, pbkdf2Sync, timingSafeEqual } from "node:crypto";

export type HashFormat = "argon2id" | "bcrypt" | "apr1" | "sha1" | "sha256-crypt" | "sha512-crypt" | "pbkdf2";

export type HashCheck = { ok: true; format: HashFormat } | { ok: false; reason: string };

/** apache-md5 is CommonJS exporting the function itself; its typings declare it as a default export. */
const aprMd5 = apacheMd5 as unknown as (password: string, salt: string) => string;

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const APR1 = /^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$/;
const SHA1 = /^\{SHA\}[A-Za-z0-9+/]{27}=$/;
const SHA_CRYPT = /^\$([56])\$(?:rounds=(\d{1,10})\$)?[^$:\n]{0,16}\$[./A-Za-z0-9]{43,86}$/;
const PBKDF2 = /^\$pbkdf2(?:-(sha1|sha224|sha256|sha384|sha512))?\$(\d{1,10})\$([./A-Za-z0-9+]{4,128})\$([./A-Za-z0-9+]{16,256})$/;
/** The three parameters in any order: ssoctl's own argon2 writes `m,p,t`, the reference `m,t,p`; argon2 reads both. */
const ARGON2ID = /^\$argon2id\$v=19\$((?:[mtp]=\d{1,10},){2}[mtp]=\d{1,10})\$[A-Za-z0-9+/]{11,128}\$[A-Za-z0-9+/]{16,256}$/;
const DES = /^[./0-9A-Za-z]{13}$/;

/**
 * Verification costs accepted from an import. bcrypt: htpasswd -B writes 5, PHP and most
 * libraries 10–12. sha-crypt: glibc, mkpasswd and htpasswd write 5000 rounds, Authelia 50000.
 * pbkdf2: Authelia's and OWASP's figures per digest. Beyond these the check costs seconds of CPU
 * per sign-in (unixcrypt and bcryptjs are plain JavaScript), and the user needs a new password.
 */
export const LIMITS = {
  bcryptCost: 12,
  shaCryptRounds: 100_000,
  pbkdf2Iterations: { sha1: 720_000, sha224: 600_000, sha256: 600_000, sha384: 310_000, sha512: 310_000 },
  argon2MemoryKiB: 262_144,
  argon2Time: 10,
  argon2Parallelism: 16,
} as const;

/** Whether an imported hash is one ssoctl can verify at an acceptable cost, and which it is. */
export function checkImportedHash(hash: string): HashCheck {
  let match: RegExpExecArray | null;
  if ((match = ARGON2ID.exec(hash)) !== null) {
    const params = new Map(match[1]!.split(",").map((pair) => [pair[0]!, Number(pair.slice(2))] as const));
    if (params.size !== 3) return { ok: false, reason: "argon2id parameters must name each of m, t and p once" };
    const [m, t, p] = [params.get("m")!, params.get("t")!, params.get("p")!];
    if (m > LIMITS.argon2MemoryKiB || t > LIMITS.argon2Time || p > LIMITS.argon2Parallelism || p < 1 || t < 1) {
      return { ok: false, reason: `argon2id parameters m=${m},t=${t},p=${p} exceed ssoctl's limits (m≤${LIMITS.argon2MemoryKiB}, t≤${LIMITS.argon2Time}, p≤${LIMITS.argon2Parallelism})` };
    }
    return { ok: true, format: "argon2id" };
  }
  if (hash.startsWith("$argon2")) return { ok: false, reason: "only argon2id (version 19) argon2 hashes are accepted" };
  if ((match = BCRYPT.exec(hash)) !== null) {
    const cost = Number(match[1]);
    if (cost < 4 || cost > LIMITS.bcryptCost) return { ok: false, reason: `bcrypt cost ${cost} is outside 4–${LIMITS.bcryptCost}${cost > LIMITS.bcryptCost ? "; the user must be given a new password" : ""}` };
    return { ok: true, format: "bcrypt" };
  }
  if (APR1.test(hash)) return { ok: true, format: "apr1" };
  if (SHA1.test(hash)) return { ok: true, format: "sha1" };
  if ((match = SHA_CRYPT.exec(hash)) !== null) {
    const rounds = match[2] === undefined ? 5000 : Number(match[2]);
    if (rounds > LIMITS.shaCryptRounds) return { ok: false, reason: `sha-crypt rounds=${rounds} exceeds ${LIMITS.shaCryptRounds}; the user must be given a new password` };
    const length = hash.length - hash.lastIndexOf("$") - 1;
    if ((match[1] === "5" && length !== 43) || (match[1] === "6" && length !== 86)) return { ok: false, reason: "a malformed sha-crypt hash (truncated?)" };
    return { ok: true, format: match[1] === "5" ? "sha256-crypt" : "sha512-crypt" };
  }
  if ((match = PBKDF2.exec(hash)) !== null) {
    const digest = (match[1] ?? "sha1") as keyof typeof LIMITS.pbkdf2Iterations;
    const iterations = Number(match[2]);
    const limit = LIMITS.pbkdf2Iterations[digest];
    if (iterations < 1000 || iterations > limit) return { ok: false, reason: `pbkdf2-${digest} iterations ${iterations} is outside 1000–${limit}` };
    return { ok: true, format: "pbkdf2" };
  }
  if (hash.startsWith("$scrypt$") || hash.startsWith("$7$")) return { ok: false, reason: "scrypt hashes are not supported; the user must be given a new password" };
  if (hash.startsWith("$1$")) return { ok: false, reason: "MD5-crypt ($1$) is not supported; the user must be given a new password" };
  if (DES.test(hash)) return { ok: false, reason: "DES crypt (or a plain-text password) is refused: too weak, and the two cannot be told apart" };
  if (hash.startsWith("$") || hash.startsWith("{")) return { ok: false, reason: "an unknown or malformed hash" };
  return { ok: false, reason: "a plain-text password is refused (hash it with htpasswd -B)" };
}

/** Authelia and passlib write pbkdf2 salts and digests in "adapted base64": `.` for `+`, no padding. */
function ab64(text: string): Buffer {
  return Buffer.from(text.replace(/\./g, "+"), "base64");
}

function equalText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * True only when `password` matches a foreign `hash`; false for a mismatch and for
 * anything not a well-formed, accepted foreign hash (argon2 is passwords.ts's job).
 */
export function verifyForeignHash(hash: string, password: string): boolean {
  const check = checkImportedHash(hash);
  if (!check.ok) return false;
  try {
    switch (check.format) {
      case "bcrypt":
        return bcrypt.compareSync(password, hash);
      case "apr1":
        return equalText(aprMd5(password, hash), hash);
      case "sha1":
        return equalText(`{SHA}${createHash("sha1").update(password, "utf8").digest("base64")}`, hash);
      case "sha256-crypt":
      case "sha512-crypt":
        return verifyShaCrypt(password, hash);
      case "pbkdf2": {
        const [, digest = "sha1", iterations, salt, expected] = PBKDF2.exec(hash)!;
        const want = ab64(expected!);
        const got = pbkdf2Sync(password, ab64(salt!), Number(iterations), want.length, digest);
        return got.length === want.length && timingSafeEqual(got, want);
      }
      case "argon2id":
        return false;
    }
  } catch {
    return false;
  }
}
