/** Which imported hashes are accepted: the formats htpasswd and Authelia write, at a cost a sign-in can afford. */
import { describe, expect, it } from "vitest";
import { checkImportedHash, verifyForeignHash } from "../../src/foreign-hashes.js";
import { hashPassword, verifyPassword } from "../../src/passwords.js";

const SHA1_OF_PASSWORD = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="; // base64(sha1("password"))

describe("imported hashes", () => {
  it("refuses hashes whose verification would cost minutes or gigabytes at each sign-in", () => {
    const salt = "c2FsdHNhbHRzYWx0c2FsdA";
    const digest = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    expect(checkImportedHash(`$argon2id$v=19$m=4194304,t=3,p=4$${salt}$${digest}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/exceed/) });
    expect(checkImportedHash(`$argon2id$v=19$m=65536,t=3,p=4$${salt}$${digest}`)).toEqual({ ok: true, format: "argon2id" });
    expect(checkImportedHash(`$2y$31$${"a".repeat(53)}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/bcrypt cost 31/) });
    expect(checkImportedHash(`$6$rounds=999999999$salt$${"a".repeat(86)}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/rounds=999999999/) });
    expect(checkImportedHash(`$pbkdf2-sha512$999999999$${salt}$${digest}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/iterations/) });
  });

  it("refuses costs above what the other systems write by default, which would cost seconds per sign-in", () => {
    const salt = "c2FsdHNhbHRzYWx0c2FsdA";
    const digest = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    // passlib's sha512_crypt default: ~2 s of plain JavaScript per check.
    expect(checkImportedHash(`$6$rounds=656000$salt$${"a".repeat(86)}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/rounds=656000 exceeds 100000; the user must be given a new password/) });
    expect(checkImportedHash(`$6$rounds=50000$salt$${"a".repeat(86)}`)).toEqual({ ok: true, format: "sha512-crypt" });
    expect(checkImportedHash(`$2b$13$${"a".repeat(53)}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/bcrypt cost 13 is outside 4–12/) });
    expect(checkImportedHash(`$2b$12$${"a".repeat(53)}`)).toEqual({ ok: true, format: "bcrypt" });
    expect(checkImportedHash(`$pbkdf2-sha512$400000$${salt}$${digest}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/pbkdf2-sha512 iterations 400000 is outside 1000–310000/) });
    expect(checkImportedHash(`$pbkdf2-sha512$310000$${salt}$${digest}`)).toEqual({ ok: true, format: "pbkdf2" });
    expect(checkImportedHash(`$pbkdf2$720000$${salt}$${digest}`)).toEqual({ ok: true, format: "pbkdf2" });
    expect(checkImportedHash(`$pbkdf2$1300000$${salt}$${digest}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/pbkdf2-sha1 iterations 1300000/) });
  });

  it("accepts argon2id parameters in any order, as ssoctl hash prints them (m,p,t) and as the reference writes them (m,t,p)", async () => {
    const own = await hashPassword("password");
    const match = /^(\$argon2id\$v=19\$)([^$]+)(\$.*)$/.exec(own)!;
    const params = Object.fromEntries(match[2]!.split(",").map((pair) => pair.split("=")));
    for (const order of [["m", "p", "t"], ["m", "t", "p"], ["t", "m", "p"], ["p", "t", "m"]]) {
      const hash = `${match[1]}${order.map((key) => `${key}=${params[key]}`).join(",")}${match[3]}`;
      expect(checkImportedHash(hash), hash).toEqual({ ok: true, format: "argon2id" });
      expect(await verifyPassword(hash, "password"), hash).toBe(true);
    }
    expect(checkImportedHash(`${match[1]}m=65536,m=65536,t=3${match[3]}`)).toMatchObject({ ok: false, reason: expect.stringMatching(/each of m, t and p once/) });
    expect(checkImportedHash(`${match[1]}m=65536,t=3${match[3]}`)).toMatchObject({ ok: false });
  });

  it("tells plain text, DES and unknown formats apart in its reasons", () => {
    expect(checkImportedHash("hunter2")).toMatchObject({ ok: false, reason: expect.stringMatching(/plain-text/) });
    expect(checkImportedHash("py3i2ubDff.Rk")).toMatchObject({ ok: false, reason: expect.stringMatching(/DES/) });
    expect(checkImportedHash("$1$abc$def")).toMatchObject({ ok: false, reason: expect.stringMatching(/MD5-crypt/) });
    expect(checkImportedHash("$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA")).toMatchObject({ ok: false, reason: expect.stringMatching(/argon2id/) });
  });

  it("verifies {SHA} in constant form, and a sign-in check (verifyPassword) goes through the foreign hash", async () => {
    expect(verifyForeignHash(SHA1_OF_PASSWORD, "password")).toBe(true);
    expect(verifyForeignHash(SHA1_OF_PASSWORD, "Password")).toBe(false);
    expect(await verifyPassword(SHA1_OF_PASSWORD, "password")).toBe(true);
    expect(await verifyPassword(SHA1_OF_PASSWORD, "passwordx")).toBe(false);
    // A plain-text "hash" (never importable, but a database edited by hand) matches nothing, not even itself.
    expect(await verifyPassword("hunter2", "hunter2")).toBe(false);
  });
});
