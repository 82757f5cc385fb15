import { createHmac } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { keyId, MAX_TOKEN_LENGTH, signToken, VerifiedTokenCache, verifyToken, type LoginClaims } from "../../src/token.js";

// Fixed vectors: secrets shaped like `secret.key` (256 bits, base64url) and fixed times.
const SECRET = "fS3ZqR8wYk2bX1nC9vJ4tH7mP0aL5eQ6dG3uN8sK2yW";
const OLD_SECRET = "Zq9vWm3kT1xR7bN2cL8pH5yJ0sD4fG6aE9uK3iO1tQw";
const OTHER_SECRET = "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz3Ab4C";
const ISSUER = "https://login.example.com";
const T0 = 1_700_000_000;

const CLAIMS: LoginClaims = {
  username: "alice",
  sessionId: "3q2-7wAAAAAAAAAAAAAAAA",
  issuedAt: T0,
  expiresAt: T0 + 43200,
  issuer: ISSUER,
  anonymous: false,
};

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

function decodePart(token: string, index: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[index]!, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** A JWT built by hand with node:crypto: what "any JWT library" would produce. */
function handMade(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string): string {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = createHmac("sha256", Buffer.from(secret, "utf8")).update(signingInput).digest("base64url");
  return `${signingInput}.${signature}`;
}

const verifyAt = (token: string, now: number, secrets: readonly string[] = [SECRET]): Promise<LoginClaims | null> =>
  verifyToken(token, { secrets, issuer: ISSUER, now });

describe("signToken", () => {
  it("writes the documented header and claims", async () => {
    const token = await signToken(CLAIMS, SECRET);
    expect(decodePart(token, 0)).toEqual({ alg: "HS256", typ: "JWT", kid: keyId(SECRET) });
    expect(decodePart(token, 1)).toEqual({ sub: "alice", sid: CLAIMS.sessionId, iat: T0, exp: T0 + 43200, iss: ISSUER });
  });

  it("marks anonymous logins with anon: true and the origin of the app that made them as aud", async () => {
    const token = await signToken({ ...CLAIMS, username: "anonymous", anonymous: true, audience: "https://wiki.example.com" }, SECRET);
    expect(decodePart(token, 1)).toMatchObject({ sub: "anonymous", anon: true, aud: "https://wiki.example.com" });
    expect(await verifyAt(token, T0)).toMatchObject({ username: "anonymous", anonymous: true, audience: "https://wiki.example.com" });
  });

  it("will not make an anonymous token bound to no app, nor a sign-in bound to one", async () => {
    await expect(signToken({ ...CLAIMS, anonymous: true }, SECRET)).rejects.toThrow(/audience/);
    await expect(signToken({ ...CLAIMS, audience: "https://wiki.example.com" }, SECRET)).rejects.toThrow(/audience/);
  });

  it("derives a stable kid that differs per key", () => {
    expect(keyId(SECRET)).toBe(keyId(SECRET));
    expect(keyId(SECRET)).not.toBe(keyId(OLD_SECRET));
    expect(keyId(SECRET)).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  it("signs with HMAC-SHA256 over header.payload keyed by the secret's UTF-8 text (checked with node:crypto)", async () => {
    const token = await signToken(CLAIMS, SECRET);
    const [header, payload, signature] = token.split(".");
    const expected = createHmac("sha256", Buffer.from(SECRET, "utf8")).update(`${header}.${payload}`).digest("base64url");
    expect(signature).toBe(expected);
  });

  it("verifies with the jose library given the secret string", async () => {
    const token = await signToken(CLAIMS, SECRET);
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(SECRET), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      currentDate: new Date((T0 + 60) * 1000),
    });
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toMatchObject({ sub: "alice", sid: CLAIMS.sessionId });
  });
});

describe("verifyToken", () => {
  it("round-trips the claims", async () => {
    const token = await signToken(CLAIMS, SECRET);
    expect(await verifyAt(token, T0 + 1)).toEqual(CLAIMS);
  });

  it("accepts a token made by hand with node:crypto (a fixed vector from another implementation)", async () => {
    const token = handMade(
      { alg: "HS256", typ: "JWT", kid: keyId(SECRET) },
      { sub: "bob", sid: "s-1", iat: T0, exp: T0 + 60, iss: ISSUER },
      SECRET,
    );
    expect(await verifyAt(token, T0 + 59)).toEqual({
      username: "bob",
      sessionId: "s-1",
      issuedAt: T0,
      expiresAt: T0 + 60,
      issuer: ISSUER,
      anonymous: false,
    });
  });

  it("accepts a token up to the second before exp and refuses it at exp", async () => {
    const token = await signToken({ ...CLAIMS, expiresAt: T0 + 100 }, SECRET);
    expect(await verifyAt(token, T0 + 99)).not.toBeNull();
    expect(await verifyAt(token, T0 + 100)).toBeNull();
    expect(await verifyAt(token, T0 + 101)).toBeNull();
  });

  it("accepts any issuer when none is required", async () => {
    const token = await signToken(CLAIMS, SECRET);
    expect(await verifyToken(token, { secrets: [SECRET], now: T0 })).toMatchObject({ issuer: ISSUER });
  });

  describe("refuses", () => {
    const good = (): Promise<string> => signToken(CLAIMS, SECRET);
    const header = { alg: "HS256", typ: "JWT", kid: keyId(SECRET) };
    const payload = { sub: "alice", sid: "s-1", iat: T0, exp: T0 + 60, iss: ISSUER };

    it("a token signed with another key", async () => {
      expect(await verifyAt(await signToken(CLAIMS, OTHER_SECRET), T0)).toBeNull();
    });

    it("a token signed with another key but carrying our kid", async () => {
      expect(await verifyAt(handMade(header, payload, OTHER_SECRET), T0)).toBeNull();
    });

    it("a token without a kid", async () => {
      expect(await verifyAt(handMade({ alg: "HS256", typ: "JWT" }, payload, SECRET), T0)).toBeNull();
    });

    it("alg none", async () => {
      const unsigned = `${b64url(JSON.stringify({ alg: "none", typ: "JWT", kid: keyId(SECRET) }))}.${b64url(JSON.stringify(payload))}.`;
      expect(await verifyAt(unsigned, T0)).toBeNull();
      const signedNone = handMade({ ...header, alg: "none" }, payload, SECRET);
      expect(await verifyAt(signedNone, T0)).toBeNull();
    });

    it("an HS512 token, even one correctly signed with our key", async () => {
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg: "HS512", kid: keyId(SECRET) })
        .sign(new TextEncoder().encode(SECRET + SECRET));
      expect(await verifyAt(token, T0)).toBeNull();
      const relabelled = handMade({ ...header, alg: "HS512" }, payload, SECRET);
      expect(await verifyAt(relabelled, T0)).toBeNull();
    });

    it("an RS256 header", async () => {
      expect(await verifyAt(handMade({ ...header, alg: "RS256" }, payload, SECRET), T0)).toBeNull();
    });

    it("a truncated token", async () => {
      const token = await good();
      expect(await verifyAt(token.slice(0, -1), T0)).toBeNull();
      expect(await verifyAt(token.slice(0, token.lastIndexOf(".")), T0)).toBeNull();
      expect(await verifyAt(token.slice(0, token.lastIndexOf(".") + 1), T0)).toBeNull();
      expect(await verifyAt(token.slice(0, 20), T0)).toBeNull();
    });

    it("a token with any one character changed", async () => {
      const token = await good();
      for (let i = 0; i < token.length; i++) {
        if (token[i] === ".") continue;
        const replacement = token[i] === "A" ? "B" : "A";
        const changed = token.slice(0, i) + replacement + token.slice(i + 1);
        // base64url's last character can carry unused bits; only count a change that alters the bytes.
        const partIndex = token.slice(0, i).split(".").length - 1;
        const decodesSame =
          Buffer.from(changed.split(".")[partIndex]!, "base64url").equals(Buffer.from(token.split(".")[partIndex]!, "base64url"));
        if (decodesSame) continue;
        expect(await verifyAt(changed, T0), `position ${i}`).toBeNull();
      }
    });

    it("a payload swapped in from another token", async () => {
      const alice = await signToken(CLAIMS, SECRET);
      const mallory = await signToken({ ...CLAIMS, username: "mallory", sessionId: "other" }, SECRET);
      const [h, , s] = alice.split(".");
      const swapped = `${h}.${mallory.split(".")[1]}.${s}`;
      expect(await verifyAt(swapped, T0)).toBeNull();
    });

    it("a token missing sid", async () => {
      const { sid: _sid, ...withoutSid } = payload;
      expect(await verifyAt(handMade(header, withoutSid, SECRET), T0)).toBeNull();
      expect(await verifyAt(handMade(header, { ...payload, sid: "" }, SECRET), T0)).toBeNull();
      expect(await verifyAt(handMade(header, { ...payload, sid: 42 }, SECRET), T0)).toBeNull();
    });

    it("a token missing sub, exp or iat", async () => {
      for (const claim of ["sub", "exp", "iat"] as const) {
        const partial: Record<string, unknown> = { ...payload };
        delete partial[claim];
        expect(await verifyAt(handMade(header, partial, SECRET), T0), claim).toBeNull();
      }
    });

    it("an anon claim that is not exactly true", async () => {
      expect(await verifyAt(handMade(header, { ...payload, anon: "yes", aud: "https://wiki.example.com" }, SECRET), T0)).toBeNull();
    });

    it("an anonymous token bound to no app (no aud, or not one origin)", async () => {
      expect(await verifyAt(handMade(header, { ...payload, anon: true, aud: "https://wiki.example.com" }, SECRET), T0)).not.toBeNull();
      for (const aud of [undefined, "", 42, ["https://wiki.example.com"]]) {
        expect(await verifyAt(handMade(header, { ...payload, anon: true, aud }, SECRET), T0), JSON.stringify(aud)).toBeNull();
      }
    });

    it("a sign-in token that carries an aud", async () => {
      expect(await verifyAt(handMade(header, { ...payload, aud: "https://wiki.example.com" }, SECRET), T0)).toBeNull();
    });

    it("a token from another issuer", async () => {
      const token = await signToken({ ...CLAIMS, issuer: "https://evil.example.net" }, SECRET);
      expect(await verifyAt(token, T0)).toBeNull();
    });

    it("a huge token without reading it", async () => {
      const token = handMade(header, { ...payload, pad: "x".repeat(MAX_TOKEN_LENGTH) }, SECRET);
      expect(token.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
      expect(await verifyAt(token, T0)).toBeNull();
    });

    it.each(["", "not a jwt", "a.b.c", "...", "eyJ.eyJ.sig", "null", "%%%.%%%.%%%", "\u0000", "Bearer x.y.z"])(
      "a string that is not a JWT (%j)",
      async (text) => {
        expect(await verifyAt(text, T0)).toBeNull();
      },
    );

    it("anything when no secrets are given", async () => {
      expect(await verifyAt(await good(), T0, [])).toBeNull();
    });
  });

  describe("during key rotation", () => {
    it("verifies tokens signed with the new and the old key", async () => {
      const secrets = [SECRET, OLD_SECRET];
      const fresh = await signToken({ ...CLAIMS, sessionId: "new" }, SECRET);
      const previous = await signToken({ ...CLAIMS, sessionId: "old" }, OLD_SECRET);
      expect(await verifyAt(fresh, T0, secrets)).toMatchObject({ sessionId: "new" });
      expect(await verifyAt(previous, T0, secrets)).toMatchObject({ sessionId: "old" });
    });

    it("refuses the old key's tokens once it is no longer listed", async () => {
      const previous = await signToken(CLAIMS, OLD_SECRET);
      expect(await verifyAt(previous, T0, [SECRET])).toBeNull();
    });
  });
});

describe("VerifiedTokenCache", () => {
  it("returns the claims of a valid token, and null for an invalid one", async () => {
    const cache = new VerifiedTokenCache();
    const secrets = [SECRET];
    const token = await signToken(CLAIMS, SECRET);
    expect(await cache.verify(token, { secrets, issuer: ISSUER, now: T0 })).toEqual(CLAIMS);
    expect(await cache.verify(token, { secrets, issuer: ISSUER, now: T0 })).toEqual(CLAIMS);
    expect(await cache.verify(token.slice(0, -2), { secrets, issuer: ISSUER, now: T0 })).toBeNull();
  });

  it("never returns an expired entry", async () => {
    const cache = new VerifiedTokenCache();
    const secrets = [SECRET];
    const token = await signToken({ ...CLAIMS, expiresAt: T0 + 10 }, SECRET);
    expect(await cache.verify(token, { secrets, now: T0 })).not.toBeNull();
    expect(await cache.verify(token, { secrets, now: T0 + 9 })).not.toBeNull();
    expect(await cache.verify(token, { secrets, now: T0 + 10 })).toBeNull();
    expect(await cache.verify(token, { secrets, now: T0 + 11 })).toBeNull();
  });

  it("forgets everything when the secrets change, so a retired key stops verifying at once", async () => {
    const cache = new VerifiedTokenCache();
    const token = await signToken(CLAIMS, OLD_SECRET);
    expect(await cache.verify(token, { secrets: [SECRET, OLD_SECRET], now: T0 })).not.toBeNull();
    expect(await cache.verify(token, { secrets: [SECRET], now: T0 })).toBeNull();
  });

  it("applies the issuer rule to a cached token too", async () => {
    const cache = new VerifiedTokenCache();
    const secrets = [SECRET];
    const foreign = await signToken({ ...CLAIMS, issuer: "https://other.example.net" }, SECRET);
    expect(await cache.verify(foreign, { secrets, now: T0 })).not.toBeNull();
    expect(await cache.verify(foreign, { secrets, issuer: ISSUER, now: T0 })).toBeNull();
  });

  it("asks for newer keys once when a token names a key it does not know, and verifies under them", async () => {
    const cache = new VerifiedTokenCache();
    const fresh = await signToken(CLAIMS, OTHER_SECRET);
    let asked = 0;
    const refreshKeys = async (): Promise<readonly string[]> => {
      asked += 1;
      return [OTHER_SECRET, SECRET];
    };
    expect(await cache.verify(fresh, { secrets: [SECRET], now: T0, refreshKeys })).toEqual(CLAIMS);
    expect(asked).toBe(1);
  });

  it("does not ask for newer keys when the token's key is known or the token unreadable", async () => {
    const cache = new VerifiedTokenCache();
    let asked = 0;
    const refreshKeys = async (): Promise<readonly string[]> => {
      asked += 1;
      return [SECRET];
    };
    const expired = await signToken({ ...CLAIMS, expiresAt: T0 - 1 }, SECRET);
    expect(await cache.verify(expired, { secrets: [SECRET], now: T0, refreshKeys })).toBeNull();
    expect(await cache.verify("not a token", { secrets: [SECRET], now: T0, refreshKeys })).toBeNull();
    expect(asked).toBe(0);
    const unknown = await signToken(CLAIMS, OTHER_SECRET);
    expect(await cache.verify(unknown, { secrets: [SECRET], now: T0, refreshKeys })).toBeNull();
    expect(asked).toBe(1);
  });

  it("keeps working past its capacity", async () => {
    const cache = new VerifiedTokenCache(2);
    const secrets = [SECRET];
    const tokens = await Promise.all([1, 2, 3].map((n) => signToken({ ...CLAIMS, sessionId: `s${n}` }, SECRET)));
    for (const token of tokens) expect(await cache.verify(token, { secrets, now: T0 })).not.toBeNull();
    for (const token of tokens) expect(await cache.verify(token, { secrets, now: T0 })).not.toBeNull();
  });
});
