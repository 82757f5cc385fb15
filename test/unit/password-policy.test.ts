import { describe, expect, it } from "vitest";
import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARACTERS, normalizePassword, passwordProblem } from "../../src/password-policy.js";

describe("password policy", () => {
  it("has the documented limits", () => {
    expect(MIN_PASSWORD_CHARACTERS).toBe(8);
    expect(MAX_PASSWORD_BYTES).toBe(1024);
  });

  it.each([
    ["exactly eight ASCII characters", "abcdefgh"],
    ["eight multibyte characters (24 bytes)", "日本語のパスワード".slice(0, 8)],
    ["eight emoji (astral characters count once each)", "😀😀😀😀😀😀😀😀"],
    ["exactly 1024 bytes", "a".repeat(1024)],
    ["1024 bytes of two-byte characters", "é".repeat(512)],
    ["spaces inside", "correct horse battery staple"],
  ])("accepts %s", (_label, password) => {
    expect(passwordProblem(password)).toBeNull();
  });

  it.each([
    ["an empty password", "", /at least 8 characters/],
    ["seven characters", "abcdefg", /at least 8 characters/],
    ["seven emoji (14 UTF-16 units but 7 characters)", "😀😀😀😀😀😀😀", /at least 8 characters/],
    ["1025 bytes", "a".repeat(1025), /at most 1024 bytes/],
    ["513 two-byte characters (1026 bytes, 513 characters)", "é".repeat(513), /at most 1024 bytes/],
    ["342 three-byte characters (1026 bytes)", "€".repeat(342), /at most 1024 bytes/],
  ])("refuses %s", (_label, password, message) => {
    expect(passwordProblem(password)).toMatch(message);
  });

  it("normalises to NFKC so the same password typed two ways matches", () => {
    // "é" precomposed vs e + combining acute; fullwidth vs ASCII; the "ﬁ" ligature vs "fi".
    expect(normalizePassword("caf\u00e9-secret")).toBe(normalizePassword("cafe\u0301-secret"));
    expect(normalizePassword("ｐａｓｓｗｏｒｄ")).toBe("password");
    expect(normalizePassword("\ufb01rewall1")).toBe("firewall1");
  });

  it("counts length after normalisation", () => {
    // Eight combining sequences normalise to eight characters, not sixteen code points.
    expect(passwordProblem("e\u0301".repeat(8))).toBeNull();
    // The "㎏" compatibility character normalises to two characters "kg": 4 of them make 8.
    expect(passwordProblem("㎏㎏㎏㎏")).toBeNull();
    expect(passwordProblem("e\u0301".repeat(7))).toMatch(/at least 8/);
  });
});
