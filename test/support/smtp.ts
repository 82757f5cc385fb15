/**
 * A real SMTP server in the test process (the smtp-server package, which shares no sending code
 * with nodemailer's client), on 127.0.0.1 and an ephemeral port, and a self-signed certificate
 * made with node:crypto alone (npm test needs no openssl).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** Whether the message came over TLS (STARTTLS or implicit). */
  secure: boolean;
  user: string | null;
}

/** `tempfail-once`: 451 to the next message, then accept. */
export type SmtpBehaviour = "accept" | "reject" | "tempfail" | "tempfail-once" | "hang";

export interface TestSmtpServer {
  port: number;
  received: ReceivedMail[];
  /** How the server answers DATA from now on. */
  behave(behaviour: SmtpBehaviour): void;
  /** Resolves when `count` messages have arrived. */
  waitFor(count: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

// DER, as little of it as a certificate needs.
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const seq = (...parts: Buffer[]): Buffer => der(0x30, Buffer.concat(parts));
const oid = (dotted: string): Buffer => {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [a! * 40 + b!];
  for (const value of rest) {
    const chunk = [value & 0x7f];
    for (let v = value >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
};
const utcTime = (date: Date): Buffer => der(0x17, Buffer.from(date.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z"));

/** A self-signed P-256 certificate for `localhost` and 127.0.0.1, valid for a day. PEM texts. */
export function selfSignedCertificate(): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ecdsaSha256 = seq(oid("1.2.840.10045.4.3.2"));
  const name = seq(der(0x31, seq(oid("2.5.4.3"), der(0x0c, Buffer.from("localhost")))));
  const serial = randomBytes(12);
  serial[0]! &= 0x7f;
  const altNames = seq(der(0x82, Buffer.from("localhost")), der(0x87, Buffer.from([127, 0, 0, 1])));
  const extensions = der(
    0xa3,
    seq(
      seq(oid("2.5.29.19"), der(0x01, Buffer.from([0xff])), der(0x04, seq(der(0x01, Buffer.from([0xff]))))),
      seq(oid("2.5.29.17"), der(0x04, altNames)),
    ),
  );
  const now = Date.now();
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, serial),
    ecdsaSha256,
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 86400_000))),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    extensions,
  );
  const signature = sign("sha256", tbs, privateKey as KeyObject);
  const certificate = seq(tbs, ecdsaSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const pem = `-----BEGIN CERTIFICATE-----\n${certificate.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`;
  return { cert: pem, key: createPrivateKey(privateKey.export({ type: "pkcs8", format: "pem" })).export({ type: "pkcs8", format: "pem" }) as string };
}

export interface SmtpServerOptions {
  /** STARTTLS with this certificate (or implicit TLS with `secure`). */
  tls?: { cert: string; key: string };
  secure?: boolean;
  /** Required login. */
  auth?: { user: string; password: string };
}

export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let behaviour: SmtpBehaviour = "accept";
  let waiters: Array<() => void> = [];
  const hanging = new Set<() => void>();
  const server = new SMTPServer({
    logger: false,
    secure: options.secure === true,
    ...(options.tls !== undefined ? { key: options.tls.key, cert: options.tls.cert } : { disabledCommands: ["STARTTLS"] }),
    ...(options.auth === undefined ? { authOptional: true } : { authMethods: ["PLAIN", "LOGIN"] }),
    onAuth(auth: any, _session: any, callback: any) {
      if (options.auth !== undefined && auth.username === options.auth.user && auth.password === options.auth.password) callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onData(stream: any, session: any, callback: any) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        if (behaviour === "hang") {
          // Never answers: the client's own timeout has to end the wait.
          hanging.add(() => callback(new Error("closing")));
          return;
        }
        if (behaviour === "reject") {
          callback(Object.assign(new Error("Mailbox unavailable"), { responseCode: 550 }));
          return;
        }
        if (behaviour === "tempfail" || behaviour === "tempfail-once") {
          if (behaviour === "tempfail-once") behaviour = "accept";
          callback(Object.assign(new Error("Try again later"), { responseCode: 451 }));
          return;
        }
        received.push({
          from: session.envelope.mailFrom?.address ?? "",
          to: session.envelope.rcptTo.map((r: { address: string }) => r.address),
          raw: Buffer.concat(chunks).toString("utf8"),
          secure: session.secure === true,
          user: typeof session.user === "string" ? session.user : null,
        });
        callback(null, "OK: message queued");
        for (const wake of waiters) wake();
      });
    },
  } as any);
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = ((server as any).server.address() as AddressInfo).port;
  return {
    port,
    received,
    behave(next) {
      behaviour = next;
    },
    waitFor(count) {
      return new Promise((resolve) => {
        const check = (): void => {
          if (received.length >= count) {
            waiters = waiters.filter((w) => w !== check);
            resolve(received);
          }
        };
        waiters.push(check);
        check();
      });
    },
    async close() {
      for (const release of hanging) release();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The decoded headers of a raw message (unfolded; names lower-cased; the first of each). */
export function headersOf(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/, 1)[0]!.replace(/\r?\n[ \t]+/g, " ");
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] ??= line.slice(colon + 1).trim();
  }
  return headers;
}

/** The text/plain part of a raw message, quoted-printable decoded. */
export function textPartOf(raw: string): string {
  const match = /Content-Type: text\/plain[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?Content-Transfer-Encoding: ([^\r\n]+)\r?\n\r?\n([\s\S]*?)(?:\r?\n--|$)/i.exec(raw);
  if (match === null) return "";
  return decodePart(match[2]!, match[1]!.trim());
}

/** The text/html part, decoded. */
export function htmlPartOf(raw: string): string {
  const match = /Content-Type: text\/html[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*?Content-Transfer-Encoding: ([^\r\n]+)\r?\n\r?\n([\s\S]*?)(?:\r?\n--|$)/i.exec(raw);
  if (match === null) return "";
  return decodePart(match[2]!, match[1]!.trim());
}

function decodePart(body: string, encoding: string): string {
  if (/quoted-printable/i.test(encoding)) {
    const bytes = body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, "latin1").toString("utf8");
  }
  if (/base64/i.test(encoding)) return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  return body;
}
