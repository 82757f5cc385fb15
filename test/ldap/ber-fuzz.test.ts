/**
 * The BER codec against random damage: every mutation of real requests (as ldapts and OpenLDAP's
 * tools send them) either decodes or is refused with a BerError, never another throw or a hang.
 * Seeded, so a failure is reproducible.
 */
import { describe, expect, it } from "vitest";
import { BerError, encodeBoolean, encodeInteger, encodeString, frameLength, TAG, tlv } from "../../src/protocols/ldap/ber.js";
import { decodeMessage } from "../../src/protocols/ldap/messages.js";

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const BASE = "dc=example,dc=org";

function message(id: number, op: Buffer, controls: Buffer[] = []): Buffer {
  return tlv(TAG.sequence, [encodeInteger(id), op, ...(controls.length > 0 ? [tlv(0xa0, controls)] : [])]);
}

const eq = (a: string, v: string): Buffer => tlv(0xa3, [encodeString(a), encodeString(v)]);
const filter = tlv(0xa0, [
  eq("objectClass", "inetOrgPerson"),
  tlv(0xa1, [eq("uid", "alice"), tlv(0xa2, eq("mail", "x@example.org")), tlv(0x87, Buffer.from("cn"))]),
  tlv(0xa4, [encodeString("cn"), tlv(TAG.sequence, [encodeString("Al", 0x80), encodeString("c", 0x81), encodeString("e", 0x82)])]),
  tlv(0xa5, [encodeString("uid"), encodeString("a")]),
  tlv(0xa6, [encodeString("uid"), encodeString("z")]),
]);
const paged = tlv(TAG.sequence, [encodeString("1.2.840.113556.1.4.319"), encodeBoolean(true), encodeString(tlv(TAG.sequence, [encodeInteger(10), encodeString("")]))]);

const SEEDS: Buffer[] = [
  message(1, tlv(0x60, [encodeInteger(3), encodeString(`cn=media,ou=services,${BASE}`), encodeString("secret", 0x80)])),
  message(2, tlv(0x63, [encodeString(BASE), encodeInteger(2, TAG.enumerated), encodeInteger(0, TAG.enumerated), encodeInteger(0), encodeInteger(0), encodeBoolean(false), filter, tlv(TAG.sequence, [encodeString("uid"), encodeString("memberOf")])]), [paged]),
  message(3, tlv(0x6e, [encodeString(`cn=admins,ou=groups,${BASE}`), tlv(TAG.sequence, [encodeString("member"), encodeString(`uid=alice,ou=people,${BASE}`)])])),
  message(4, tlv(0x77, [encodeString("1.3.6.1.4.1.4203.1.11.3", 0x80)])),
  message(5, tlv(0x42, Buffer.alloc(0))),
  message(6, tlv(0x50, Buffer.from([0x02]))),
  message(7, tlv(0x4a, Buffer.from(`uid=bob,ou=people,${BASE}`))),
];

function mutate(seed: Buffer, random: () => number): Buffer {
  const bytes = Buffer.from(seed);
  const kind = Math.floor(random() * 5);
  const at = Math.floor(random() * bytes.length);
  switch (kind) {
    case 0: // flip bits
      for (let i = 0; i < 1 + Math.floor(random() * 4); i += 1) bytes[Math.floor(random() * bytes.length)]! ^= 1 << Math.floor(random() * 8);
      return bytes;
    case 1: // random byte
      bytes[at] = Math.floor(random() * 256);
      return bytes;
    case 2: // cut
      return bytes.subarray(0, at);
    case 3: // splice random bytes in
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * 256))), bytes.subarray(at)]);
    default: // duplicate a slice
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.floor(random() * bytes.length)), bytes.subarray(at)]);
  }
}

describe("BER fuzz", () => {
  it("decodes the unharmed requests", () => {
    for (const seed of SEEDS) expect(() => decodeMessage(seed)).not.toThrow();
    expect(decodeMessage(SEEDS[1]!).request).toMatchObject({ op: "search", scope: "sub", attributes: ["uid", "memberOf"] });
  });

  it("refuses 50,000 mutations with BerError only, never another error", () => {
    const random = prng(0x5eed);
    let refused = 0;
    for (let i = 0; i < 50_000; i += 1) {
      let bytes = SEEDS[i % SEEDS.length]!;
      for (let k = 0; k < 1 + (i % 3); k += 1) bytes = mutate(bytes, random);
      try {
        const length = frameLength(bytes, 64 * 1024);
        if (length !== null) decodeMessage(bytes.subarray(0, length));
      } catch (error) {
        if (!(error instanceof BerError)) throw new Error(`mutation ${i} (${bytes.toString("hex")}) threw ${String(error)}`);
        refused += 1;
      }
    }
    // Most damage is noticed; the rest decoded into some well-formed request.
    expect(refused).toBeGreaterThan(10_000);
  });

  it("refuses random bytes with BerError only", () => {
    const random = prng(42);
    for (let i = 0; i < 20_000; i += 1) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      if (i % 2 === 0) bytes[0] = 0x30;
      try {
        const length = frameLength(bytes, 64 * 1024);
        if (length !== null) decodeMessage(bytes.subarray(0, length));
      } catch (error) {
        if (!(error instanceof BerError)) throw new Error(`input ${bytes.toString("hex")} threw ${String(error)}`);
      }
    }
  });
});
