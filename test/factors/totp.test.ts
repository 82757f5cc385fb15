import { describe, expect, it } from "vitest";
import { base32Decode, base32Encode, hotp, matchTotp, newTotpSecret, normalizeTotpCode, otpauthUri, totpStep } from "../../src/factors/totp.js";
import { findRecoveryCode, hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from "../../src/factors/recovery-codes.js";

const RFC_SHA1_KEY = Buffer.from("12345678901234567890", "ascii");

describe("TOTP (RFC 6238)", () => {
  // RFC 6238 appendix B, SHA-1, 8 digits.
  it.each([
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ])("reproduces the RFC's SHA-1 vector at T=%i", (time, code) => {
    expect(hotp(RFC_SHA1_KEY, totpStep(time), { digits: 8 })).toBe(code);
  });

  it("reproduces the RFC's SHA-256 and SHA-512 vectors at T=59", () => {
    expect(hotp(Buffer.from("12345678901234567890123456789012"), totpStep(59), { digits: 8, algorithm: "sha256" })).toBe("46119246");
    expect(hotp(Buffer.from("1234567890123456789012345678901234567890123456789012345678901234"), totpStep(59), { digits: 8, algorithm: "sha512" })).toBe("90693936");
  });

  it("round-trips base32 and refuses what is not base32", () => {
    expect(base32Encode(RFC_SHA1_KEY)).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    expect(base32Decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq")).toEqual(RFC_SHA1_KEY);
    expect(base32Decode("GEZ1")).toBeNull();
    expect(base32Decode(newTotpSecret())).toHaveLength(20);
  });

  const secret = base32Encode(RFC_SHA1_KEY);
  const key = RFC_SHA1_KEY;
  const now = 1111111111; // step 37037037, 1 s into it... a step starts at multiples of 30

  it("accepts the current code and one step either side, and nothing further", () => {
    const step = totpStep(now);
    expect(matchTotp(secret, hotp(key, step), now)).toBe(step);
    expect(matchTotp(secret, hotp(key, step - 1), now)).toBe(step - 1);
    expect(matchTotp(secret, hotp(key, step + 1), now)).toBe(step + 1);
    expect(matchTotp(secret, hotp(key, step - 2), now)).toBeNull();
    expect(matchTotp(secret, hotp(key, step + 2), now)).toBeNull();
  });

  it("window edges: the last second of a step and the first of the next", () => {
    const start = 30 * 40_000_000;
    const previous = hotp(key, totpStep(start) - 1);
    // At the first second of a step the previous step's code is still good; two steps later it is not.
    expect(matchTotp(secret, previous, start)).toBe(totpStep(start) - 1);
    expect(matchTotp(secret, previous, start + 29)).toBe(totpStep(start) - 1);
    expect(matchTotp(secret, previous, start + 30)).toBeNull();
  });

  it("refuses a code at or before the last used step (replay)", () => {
    const step = totpStep(now);
    const code = hotp(key, step);
    expect(matchTotp(secret, code, now, step - 1)).toBe(step);
    expect(matchTotp(secret, code, now, step)).toBeNull();
    // An older code in the window after a newer one was used: refused too.
    expect(matchTotp(secret, hotp(key, step - 1), now, step)).toBeNull();
  });

  it("ignores spaces and dashes; refuses wrong lengths and letters", () => {
    const code = hotp(key, totpStep(now));
    expect(matchTotp(secret, ` ${code.slice(0, 3)} ${code.slice(3)} `, now)).toBe(totpStep(now));
    expect(normalizeTotpCode("123-456")).toBe("123456");
    expect(normalizeTotpCode("12345")).toBeNull();
    expect(normalizeTotpCode("1234567")).toBeNull();
    expect(normalizeTotpCode("12345a")).toBeNull();
    expect(matchTotp(secret, "", now)).toBeNull();
  });

  it("writes an otpauth URI authenticator apps read", () => {
    const uri = new URL(otpauthUri({ issuer: "Example SSO", account: "alice", secret }));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe("/Example SSO:alice");
    expect(uri.searchParams.get("secret")).toBe(secret);
    expect(uri.searchParams.get("issuer")).toBe("Example SSO");
    expect(uri.searchParams.get("digits")).toBe("6");
    expect(uri.searchParams.get("period")).toBe("30");
  });
});

describe("recovery codes", () => {
  it("makes 10 distinct codes of 80 bits, written in groups", () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
  });

  it("finds a code typed in any case, with or without dashes, and only a stored one", () => {
    const codes = newRecoveryCodes(3);
    const stored = codes.map((code, i) => ({ id: i + 1, hash: hashRecoveryCode(code) }));
    expect(findRecoveryCode(stored, codes[1]!)?.id).toBe(2);
    expect(findRecoveryCode(stored, codes[2]!.toUpperCase().replace(/-/g, " "))?.id).toBe(3);
    expect(findRecoveryCode(stored, newRecoveryCodes(1)[0]!)).toBeNull();
    expect(findRecoveryCode(stored, "short")).toBeNull();
    expect(normalizeRecoveryCode("abcd-efgh-ijkl-mnop")).toBe("ABCDEFGHIJKLMNOP");
    expect(normalizeRecoveryCode("abcd-efgh-ijkl-mno1")).toBeNull();
  });

  it("stores a digest, never the code", () => {
    const [code] = newRecoveryCodes(1);
    expect(hashRecoveryCode(code!)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRecoveryCode(code!)).not.toContain(normalizeRecoveryCode(code!)!.toLowerCase());
  });
});
