/**
 * The `mail` section of the configuration, checked once: a from address and exactly one way
 * of sending (SMTP or a directory of .eml files). Every problem is a TypeError naming the key.
 */
import * as fs from "node:fs";
import { parseDuration } from "../duration.js";
import { parseMailbox, type Mailbox } from "./address.js";

export interface SmtpSettings {
  kind: "smtp";
  host: string;
  port: number;
  /** Implicit TLS from the first byte (usually port 465). */
  tls: boolean;
  /** STARTTLS required before anything else is said (usually port 587). */
  starttls: boolean;
  user: string | null;
  /** Read from `password_file` or SSOCTL_MAIL_SMTP_PASSWORD; never in the file itself. */
  password: string | null;
  /** PEM text of the certificates trusted for this server besides the system's. */
  ca: string | null;
  caFile: string | null;
  timeoutMs: number;
}

export interface FileSettings {
  kind: "file";
  directory: string;
}

export interface MailSettings {
  from: Mailbox;
  transport: SmtpSettings | FileSettings;
  /** Tell a user when their account signs in from a browser not seen on it before. */
  notifyNewBrowser: boolean;
}

/** The section as the config file (or the environment) gives it. */
export interface MailSection {
  from?: unknown;
  smtp?: Record<string, unknown> | undefined;
  file?: Record<string, unknown> | undefined;
  notify_new_browser?: unknown;
}

export const DEFAULT_SMTP_TIMEOUT_MS = 10_000;

const SMTP_KEYS = new Set(["host", "port", "starttls", "tls", "user", "password_file", "ca_file", "timeout"]);

function text(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new TypeError(`${key} must be text`);
  return value;
}

function flag(value: unknown, key: string): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "yes" || value === "1") return true;
  if (value === "false" || value === "no" || value === "0") return false;
  throw new TypeError(`${key} must be true or false`);
}

function readSecretFile(file: string, key: string): string {
  let content: string;
  try {
    content = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new TypeError(`${key} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  // The file's first line: an editor's trailing newline is not part of the password.
  return content.split(/\r?\n/, 1)[0] ?? "";
}

function smtpSettings(section: Record<string, unknown>, env: NodeJS.ProcessEnv): SmtpSettings {
  for (const key of Object.keys(section)) {
    if (!SMTP_KEYS.has(key)) throw new TypeError(`mail.smtp.${key} is not a setting (known: ${[...SMTP_KEYS].join(", ")})`);
  }
  const host = text(section.host, "mail.smtp.host");
  if (host === undefined) throw new TypeError("mail.smtp.host is required");
  if (!/^[A-Za-z0-9.\-:[\]]{1,253}$/.test(host)) throw new TypeError(`mail.smtp.host "${host.slice(0, 100)}" is not a host name or address`);
  const tls = flag(section.tls, "mail.smtp.tls") ?? false;
  const starttls = flag(section.starttls, "mail.smtp.starttls") ?? !tls;
  if (tls && starttls) throw new TypeError("mail.smtp.tls and mail.smtp.starttls exclude each other: tls is for port 465, starttls for 587");
  const portValue = section.port ?? (tls ? 465 : 587);
  const port = typeof portValue === "string" && /^\d+$/.test(portValue) ? Number(portValue) : portValue;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`mail.smtp.port ${String(portValue)} is not a port number`);
  const user = text(section.user, "mail.smtp.user") ?? null;
  const passwordFile = text(section.password_file, "mail.smtp.password_file");
  const fromEnv = env.SSOCTL_MAIL_SMTP_PASSWORD;
  const password = passwordFile !== undefined ? readSecretFile(passwordFile, "mail.smtp.password_file") : fromEnv !== undefined && fromEnv !== "" ? fromEnv : null;
  if (user !== null && password === null) throw new TypeError("mail.smtp.user needs a password: mail.smtp.password_file or SSOCTL_MAIL_SMTP_PASSWORD");
  if (user === null && password !== null) throw new TypeError("a mail password is set but mail.smtp.user is not");
  const loopback = host === "localhost" || host === "::1" || host === "[::1]" || /^127\./.test(host);
  if (user !== null && !tls && !starttls && !loopback) {
    throw new TypeError("mail.smtp.user over a connection without tls or starttls would send the password in clear; set starttls: true (or tls: true)");
  }
  const caFile = text(section.ca_file, "mail.smtp.ca_file") ?? null;
  let ca: string | null = null;
  if (caFile !== null) {
    try {
      ca = fs.readFileSync(caFile, "utf8");
    } catch (error) {
      throw new TypeError(`mail.smtp.ca_file ${caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) throw new TypeError(`mail.smtp.ca_file ${caFile} holds no PEM certificate`);
  }
  const timeoutValue = section.timeout;
  let timeoutMs = DEFAULT_SMTP_TIMEOUT_MS;
  if (timeoutValue !== undefined && timeoutValue !== null && timeoutValue !== "") {
    const seconds = typeof timeoutValue === "number" ? timeoutValue : typeof timeoutValue === "string" ? parseDuration(timeoutValue) : null;
    if (seconds === null || !(seconds >= 1 && seconds <= 300)) throw new TypeError(`mail.smtp.timeout ${String(timeoutValue)} must be a duration from 1s to 5m, like 10s`);
    timeoutMs = seconds * 1000;
  }
  return { kind: "smtp", host, port, tls, starttls, user, password, ca, caFile, timeoutMs };
}

/**
 * The checked settings, or null when the section is absent (no mail: the features that need it
 * stay off). `env` gives SSOCTL_MAIL_SMTP_PASSWORD, the password's other home besides a file.
 */
export function resolveMailSettings(section: MailSection | undefined | null, env: NodeJS.ProcessEnv = process.env): MailSettings | null {
  if (section === undefined || section === null) return null;
  if (typeof section !== "object" || Array.isArray(section)) throw new TypeError("mail must be a section (from, and smtp or file)");
  for (const key of Object.keys(section)) {
    if (!["from", "smtp", "file", "notify_new_browser"].includes(key)) throw new TypeError(`mail.${key} is not a setting (known: from, smtp, file, notify_new_browser)`);
  }
  const fromText = text(section.from, "mail.from");
  if (fromText === undefined) throw new TypeError('mail.from is required, e.g. "Example sign-in <sso@example.com>"');
  const from = parseMailbox(fromText, "mail.from");
  const hasSmtp = section.smtp !== undefined && section.smtp !== null;
  const hasFile = section.file !== undefined && section.file !== null;
  if (hasSmtp === hasFile) throw new TypeError("mail needs exactly one of mail.smtp (a mail server) and mail.file (a directory of .eml files)");
  let transport: SmtpSettings | FileSettings;
  if (hasSmtp) {
    if (typeof section.smtp !== "object" || Array.isArray(section.smtp)) throw new TypeError("mail.smtp must be a section (host, port, …)");
    transport = smtpSettings(section.smtp!, env);
  } else {
    if (typeof section.file !== "object" || Array.isArray(section.file)) throw new TypeError("mail.file must be a section (directory)");
    for (const key of Object.keys(section.file!)) if (key !== "directory") throw new TypeError(`mail.file.${key} is not a setting (known: directory)`);
    const directory = text(section.file!.directory, "mail.file.directory");
    if (directory === undefined) throw new TypeError("mail.file.directory is required");
    transport = { kind: "file", directory };
  }
  return { from, transport, notifyNewBrowser: flag(section.notify_new_browser, "mail.notify_new_browser") ?? false };
}

/** Where mail goes, for one-line messages: `SMTP host:port (STARTTLS)` or `directory /x`. */
export function describeTransport(transport: SmtpSettings | FileSettings): string {
  if (transport.kind === "file") return `the directory ${transport.directory}`;
  const security = transport.tls ? "TLS" : transport.starttls ? "STARTTLS" : "no TLS";
  const host = transport.host.includes(":") && !transport.host.startsWith("[") ? `[${transport.host}]` : transport.host;
  return `SMTP ${host}:${transport.port} (${security}${transport.user !== null ? ", AUTH" : ""})`;
}
