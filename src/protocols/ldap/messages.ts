/**
 * LDAPv3 messages (RFC 4511): requests decoded from a client's bytes, responses encoded. Only what
 * a read-only server needs is decoded in full; writes are recognised so they can be refused.
 */
import { BerError, BerReader, TAG, decodeInteger, encodeInteger, encodeString, tlv } from "./ber.js";
import { decodeFilter, type Filter } from "./filter.js";

export const RESULT = {
  success: 0,
  operationsError: 1,
  protocolError: 2,
  timeLimitExceeded: 3,
  sizeLimitExceeded: 4,
  compareFalse: 5,
  compareTrue: 6,
  authMethodNotSupported: 7,
  unavailableCriticalExtension: 12,
  noSuchAttribute: 16,
  noSuchObject: 32,
  invalidDnSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
  unwillingToPerform: 53,
  other: 80,
} as const;

export const OID = {
  startTls: "1.3.6.1.4.1.1466.20037",
  whoAmI: "1.3.6.1.4.1.4203.1.11.3",
  noticeOfDisconnection: "1.3.6.1.4.1.1466.20036",
  pagedResults: "1.2.840.113556.1.4.319",
} as const;

export interface Control {
  type: string;
  critical: boolean;
  value: Buffer | null;
}

export type Scope = "base" | "one" | "sub";

export type Request =
  | { op: "bind"; version: number; name: string; auth: { kind: "simple"; password: Buffer } | { kind: "sasl"; mechanism: string } }
  | { op: "unbind" }
  | { op: "search"; base: string; scope: Scope; sizeLimit: number; timeLimit: number; typesOnly: boolean; filter: Filter; attributes: string[] }
  | { op: "compare"; dn: string; attribute: string; value: string }
  | { op: "extended"; name: string; value: Buffer | null }
  | { op: "abandon"; id: number }
  /** Add, modify, delete, modifyDN: answered with `responseTag` and unwillingToPerform. */
  | { op: "write"; responseTag: number };

export interface Message {
  id: number;
  request: Request;
  controls: Control[];
}

const WRITE_RESPONSES: Record<number, number> = { 0x66: 0x67, 0x68: 0x69, 0x4a: 0x6b, 0x6c: 0x6d };

/** The message id of a frame, when it can be read: lets a malformed request still get an answer. */
export function peekMessageId(frame: Buffer): number | null {
  try {
    return new BerReader(frame).sequence().integer();
  } catch {
    return null;
  }
}

/** Decodes one whole frame (as `frameLength` cut it); throws BerError for anything malformed. */
export function decodeMessage(frame: Buffer): Message {
  const outer = new BerReader(frame);
  const message = outer.sequence(TAG.sequence, "an LDAPMessage");
  outer.end();
  const id = message.integer();
  if (id < 0) throw new BerError("negative message id");
  const op = message.read();
  const controls: Control[] = [];
  if (message.peekTag() === 0xa0) {
    const list = message.sequence(0xa0, "controls");
    while (list.hasMore()) {
      if (controls.length >= 16) throw new BerError("too many controls");
      const c = list.sequence();
      const type = c.string();
      const critical = c.peekTag() === TAG.boolean ? c.boolean() : false;
      const value = c.peekTag() === TAG.octetString ? c.octets() : null;
      c.end();
      controls.push({ type, critical, value });
    }
  }
  message.end();
  return { id, request: decodeRequest(op.tag, op.value), controls };
}

function decodeRequest(tag: number, value: Buffer): Request {
  switch (tag) {
    case 0x60: {
      const r = new BerReader(value);
      const version = r.integer();
      const name = r.string();
      const auth = r.read();
      r.end();
      if (auth.tag === 0x80) return { op: "bind", version, name, auth: { kind: "simple", password: auth.value } };
      if (auth.tag === 0xa3) return { op: "bind", version, name, auth: { kind: "sasl", mechanism: new BerReader(auth.value).string() } };
      throw new BerError("unknown authentication choice");
    }
    case 0x42:
      return { op: "unbind" };
    case 0x63: {
      const r = new BerReader(value);
      const base = r.string();
      const scopeNumber = r.integer(TAG.enumerated, "a scope");
      r.integer(TAG.enumerated, "derefAliases");
      const sizeLimit = r.integer();
      const timeLimit = r.integer();
      const typesOnly = r.boolean();
      const filter = decodeFilter(r.read());
      const list = r.sequence();
      const attributes: string[] = [];
      while (list.hasMore()) {
        if (attributes.length >= 64) throw new BerError("too many attributes requested");
        attributes.push(list.string());
      }
      r.end();
      const scope: Scope | undefined = (["base", "one", "sub"] as const)[scopeNumber];
      if (scope === undefined) throw new BerError("unknown scope");
      if (sizeLimit < 0 || timeLimit < 0) throw new BerError("negative limit");
      return { op: "search", base, scope, sizeLimit, timeLimit, typesOnly, filter, attributes };
    }
    case 0x6e: {
      const r = new BerReader(value);
      const dn = r.string();
      const ava = r.sequence();
      const attribute = ava.string();
      const assertion = ava.string();
      ava.end();
      r.end();
      return { op: "compare", dn, attribute, value: assertion };
    }
    case 0x77: {
      const r = new BerReader(value);
      const name = r.string(0x80, "requestName");
      const requestValue = r.peekTag() === 0x81 ? r.octets(0x81) : null;
      r.end();
      return { op: "extended", name, value: requestValue };
    }
    case 0x50: {
      return { op: "abandon", id: decodeInteger(value) };
    }
    default: {
      const responseTag = WRITE_RESPONSES[tag];
      if (responseTag !== undefined) return { op: "write", responseTag };
      throw new BerError(`unknown operation tag 0x${tag.toString(16)}`);
    }
  }
}

/** Result tags by operation. */
export const RESPONSE = { bind: 0x61, searchEntry: 0x64, searchDone: 0x65, compare: 0x6f, extended: 0x78 } as const;

function envelope(id: number, op: Buffer, controls: Buffer[] = []): Buffer {
  return tlv(TAG.sequence, [encodeInteger(id), op, ...(controls.length > 0 ? [tlv(0xa0, controls)] : [])]);
}

function resultParts(code: number, diagnostic: string, matchedDn = ""): Buffer[] {
  return [encodeInteger(code, TAG.enumerated), encodeString(matchedDn), encodeString(diagnostic)];
}

export function encodeResult(id: number, tag: number, code: number, diagnostic = "", options: { matchedDn?: string; controls?: Buffer[] } = {}): Buffer {
  return envelope(id, tlv(tag, resultParts(code, diagnostic, options.matchedDn)), options.controls);
}

export function encodeExtendedResult(id: number, code: number, diagnostic: string, options: { name?: string; value?: string | Buffer }): Buffer {
  const parts = resultParts(code, diagnostic);
  if (options.name !== undefined) parts.push(encodeString(options.name, 0x8a));
  if (options.value !== undefined) parts.push(encodeString(options.value, 0x8b));
  return envelope(id, tlv(RESPONSE.extended, parts));
}

/** The unsolicited notice a server sends before it closes a connection (RFC 4511 §4.4.1). */
export function encodeNoticeOfDisconnection(code: number, diagnostic: string): Buffer {
  return encodeExtendedResult(0, code, diagnostic, { name: OID.noticeOfDisconnection });
}

export function encodeEntry(id: number, dn: string, attributes: ReadonlyArray<{ name: string; values: readonly string[] }>): Buffer {
  const list = attributes.map((a) => tlv(TAG.sequence, [encodeString(a.name), tlv(TAG.set, a.values.map((v) => encodeString(v)))]));
  return envelope(id, tlv(RESPONSE.searchEntry, [encodeString(dn), tlv(TAG.sequence, list)]));
}

export function encodePagedControl(cookie: Buffer): Buffer {
  const value = tlv(TAG.sequence, [encodeInteger(0), encodeString(cookie)]);
  return tlv(TAG.sequence, [encodeString(OID.pagedResults), encodeString(value)]);
}

/** The paged-results request control's value: page size and cookie (RFC 2696). */
export function decodePagedControl(value: Buffer | null): { size: number; cookie: Buffer } {
  if (value === null) throw new BerError("paged results control without a value");
  const r = new BerReader(value);
  const s = r.sequence();
  const size = s.integer();
  const cookie = s.octets();
  s.end();
  r.end();
  if (size < 0) throw new BerError("negative page size");
  return { size, cookie };
}

