/**
 * A software authenticator for server tests: an ES256 key stored as a passkey, and assertions
 * made as a browser's authenticator makes them (authenticatorData, clientDataJSON, a DER
 * signature), so the server's own WebAuthn check (@simplewebauthn/server) verifies them.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";

export interface SoftwarePasskey {
  id: string;
  /** The COSE public key, base64url, as the store keeps it. */
  publicKey: string;
  privateKey: KeyObject;
  counter: number;
}

/** CBOR for the fixed COSE_Key map {1: 2, 3: -7, -1: 1, -2: x, -3: y} (EC2, ES256, P-256). */
function coseKey(x: Buffer, y: Buffer): Buffer {
  const bytes = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0x58, b.length]), b]);
  return Buffer.concat([Buffer.from([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]), bytes(x), Buffer.from([0x22]), bytes(y)]);
}

export function newSoftwarePasskey(id = `sw-${Math.random().toString(36).slice(2)}`): SoftwarePasskey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const cose = coseKey(Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url"));
  return { id: Buffer.from(id).toString("base64url"), publicKey: cose.toString("base64url"), privateKey, counter: 0 };
}

/** The browser's answer to the options a passkey page carries (user verified). */
export function assertion(passkey: SoftwarePasskey, options: { challenge: string; rpId: string; origin: string; userHandle?: string }): string {
  passkey.counter += 1;
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(passkey.counter);
  const authenticatorData = Buffer.concat([createHash("sha256").update(options.rpId).digest(), Buffer.from([0x05]), counter]);
  const clientDataJSON = Buffer.from(JSON.stringify({ type: "webauthn.get", challenge: options.challenge, origin: options.origin, crossOrigin: false }));
  const signature = sign("sha256", Buffer.concat([authenticatorData, createHash("sha256").update(clientDataJSON).digest()]), passkey.privateKey);
  return JSON.stringify({
    id: passkey.id,
    rawId: passkey.id,
    type: "public-key",
    response: {
      authenticatorData: authenticatorData.toString("base64url"),
      clientDataJSON: clientDataJSON.toString("base64url"),
      signature: signature.toString("base64url"),
      ...(options.userHandle === undefined ? {} : { userHandle: options.userHandle }),
    },
    clientExtensionResults: {},
  });
}
