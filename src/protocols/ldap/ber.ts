/**
 * The subset of BER (X.690) that LDAPv3 uses, read from untrusted bytes: one-byte tags, definite
 * lengths of at most four bytes, and a nesting limit. Anything else is a BerError, never a throw of
 * another kind, a partial value or a read past the buffer (test/ldap/ber-fuzz.test.ts holds it to that).
 */

export class BerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BerError";
  }
}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  octetString: 0x04,
  enumerated: 0x0a,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Deeper than any request a client sends (an LDAP message with a filter nested a few levels). */
const DEFAULT_MAX_DEPTH = 48;

const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface Element {
  tag: number;
  /** The content octets (a view into the message, not a copy). */
  value: Buffer;
}

/**
 * The length of the first whole element in `buffer`, or null while more bytes are needed.
 * Throws a BerError for a length form LDAP never uses or one beyond `maxBytes`.
 */
export function frameLength(buffer: Buffer, maxBytes: number): number | null {
  if (buffer.length < 2) return null;
  if ((buffer[0]! & 0x1f) === 0x1f) throw new BerError("multi-byte tags are not used by LDAP");
  const header = lengthAt(buffer, 1);
  if (header === null) return null;
  const total = header.start + header.length;
  if (total > maxBytes) throw new BerError(`message of ${total} bytes is over the limit of ${maxBytes}`);
  return buffer.length >= total ? total : null;
}

/** The length at `offset` and where the content starts; null when the buffer ends first. */
function lengthAt(buffer: Buffer, offset: number): { length: number; start: number } | null {
  if (offset >= buffer.length) return null;
  const first = buffer[offset]!;
  if (first < 0x80) return { length: first, start: offset + 1 };
  const count = first & 0x7f;
  if (count === 0) throw new BerError("indefinite lengths are not allowed in LDAP");
  if (count > 4) throw new BerError("length field too long");
  if (offset + 1 + count > buffer.length) return null;
  let length = 0;
  for (let i = 0; i < count; i += 1) length = length * 256 + buffer[offset + 1 + i]!;
  return { length, start: offset + 1 + count };
}

/** Reads the elements of one constructed value (or a whole message) in order. */
export class BerReader {
  private offset: number;

  constructor(
    private readonly buffer: Buffer,
    private readonly depth = 0,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {
    if (depth > maxDepth) throw new BerError(`nested more than ${maxDepth} levels deep`);
    this.offset = 0;
  }

  hasMore(): boolean {
    return this.offset < this.buffer.length;
  }

  /** The next element's tag without reading it; null at the end. */
  peekTag(): number | null {
    return this.hasMore() ? this.buffer[this.offset]! : null;
  }

  read(): Element {
    if (!this.hasMore()) throw new BerError("value ends early");
    const tag = this.buffer[this.offset]!;
    if ((tag & 0x1f) === 0x1f) throw new BerError("multi-byte tags are not used by LDAP");
    const header = lengthAt(this.buffer, this.offset + 1);
    if (header === null || header.start + header.length > this.buffer.length) throw new BerError("value ends early");
    this.offset = header.start + header.length;
    return { tag, value: this.buffer.subarray(header.start, this.offset) };
  }

  /** The next element, which must carry `tag`. */
  expect(tag: number, what: string): Element {
    const element = this.read();
    if (element.tag !== tag) throw new BerError(`expected ${what} (tag 0x${tag.toString(16)}), got tag 0x${element.tag.toString(16)}`);
    return element;
  }

  /** A reader over a constructed element's content, one level deeper. */
  enter(element: Element): BerReader {
    if ((element.tag & 0x20) === 0) throw new BerError("expected a constructed value");
    return new BerReader(element.value, this.depth + 1, this.maxDepth);
  }

  sequence(tag: number = TAG.sequence, what = "a sequence"): BerReader {
    return this.enter(this.expect(tag, what));
  }

  integer(tag: number = TAG.integer, what = "an integer"): number {
    return decodeInteger(this.expect(tag, what).value);
  }

  octets(tag: number = TAG.octetString, what = "an octet string"): Buffer {
    return this.expect(tag, what).value;
  }

  string(tag: number = TAG.octetString, what = "a string"): string {
    return decodeString(this.expect(tag, what).value);
  }

  boolean(tag: number = TAG.boolean, what = "a boolean"): boolean {
    const value = this.expect(tag, what).value;
    if (value.length !== 1) throw new BerError("a boolean is one byte");
    return value[0] !== 0;
  }

  /** Fails unless everything was read: trailing bytes inside a value are a malformed message. */
  end(): void {
    if (this.hasMore()) throw new BerError("unexpected data after the value");
  }
}

/** A signed integer of at most four content bytes (LDAP's INTEGER (0 .. maxInt) and enumerations). */
export function decodeInteger(value: Buffer): number {
  if (value.length === 0 || value.length > 4) throw new BerError("integer of unsupported size");
  return value[0]! & 0x80 ? value.readIntBE(0, value.length) : value.readUIntBE(0, value.length);
}

export function decodeString(value: Buffer): string {
  try {
    return utf8.decode(value);
  } catch {
    throw new BerError("string is not valid UTF-8");
  }
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: tag, length, content. */
export function tlv(tag: number, content: Buffer | readonly Buffer[]): Buffer {
  const body = Buffer.isBuffer(content) ? content : Buffer.concat(content as Buffer[]);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export function encodeInteger(n: number, tag: number = TAG.integer): Buffer {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new RangeError(`integer ${n} out of range`);
  const bytes: number[] = [];
  let rest = n;
  do {
    bytes.unshift(rest & 0xff);
    rest >>= 8;
  } while (!(rest === 0 && (bytes[0]! & 0x80) === 0) && !(rest === -1 && (bytes[0]! & 0x80) !== 0));
  return tlv(tag, Buffer.from(bytes));
}

export function encodeString(text: string | Buffer, tag: number = TAG.octetString): Buffer {
  return tlv(tag, Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8"));
}

export function encodeBoolean(value: boolean, tag: number = TAG.boolean): Buffer {
  return tlv(tag, Buffer.from([value ? 0xff : 0x00]));
}
