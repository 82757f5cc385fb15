/**
 * The two ways a message leaves: SMTP (nodemailer) or a file per message in a directory.
 * Both compose the message with nodemailer, so both carry the same headers: Date,
 * Message-ID on the login server's own domain, and Auto-Submitted (no vacation replies).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import nodemailer, { type SendMailOptions, type Transporter } from "nodemailer";
import type { Mailbox } from "./address.js";
import { MailDeliveryError, type MailTransport, type OutgoingMail } from "./delivery.js";
import { describeTransport, type FileSettings, type MailSettings, type SmtpSettings } from "./settings.js";

/** One line, printable, bounded: what a server or the file system answered. */
function oneLine(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, 300);
}

function describeSmtpError(error: unknown): MailDeliveryError {
  const e = error as { code?: string; responseCode?: number; response?: string; message?: string };
  const code = typeof e.responseCode === "number" ? e.responseCode : null;
  const answer = e.response !== undefined ? e.response : e.message ?? String(error);
  const label = e.code !== undefined ? `${e.code} ` : "";
  return new MailDeliveryError(oneLine(`${label}${answer}`), code !== null && code >= 500 && code < 600);
}

function composedFields(from: Mailbox, mail: OutgoingMail, domain: string): SendMailOptions {
  return {
    from: { name: from.name, address: from.address },
    to: { name: mail.to.name, address: mail.to.address },
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    date: new Date(),
    messageId: `<${randomBytes(16).toString("hex")}@${domain}>`,
    headers: { "Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All" },
    // The envelope is what the server is asked to deliver: exactly the one recipient checked.
    envelope: { from: from.address, to: [mail.to.address] },
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

class SmtpTransport implements MailTransport {
  readonly description: string;
  private readonly transporter: Transporter<{ response?: string }>;

  constructor(
    private readonly settings: SmtpSettings,
    private readonly from: Mailbox,
    private readonly domain: string,
  ) {
    this.description = describeTransport(settings);
    this.transporter = nodemailer.createTransport({
      host: settings.host.replace(/^\[|\]$/g, ""),
      port: settings.port,
      secure: settings.tls,
      requireTLS: settings.starttls,
      ignoreTLS: !settings.tls && !settings.starttls,
      ...(settings.user !== null ? { auth: { user: settings.user, pass: settings.password ?? "" } } : {}),
      tls: { minVersion: "TLSv1.2", ...(settings.ca !== null ? { ca: [settings.ca] } : {}) },
      // The HELO name: the login server's own host, not this machine's name.
      name: domain,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
      dnsTimeout: settings.timeoutMs,
      logger: false,
      debug: false,
    });
  }

  async deliver(mail: OutgoingMail): Promise<string> {
    try {
      const info = await this.withDeadline(this.transporter.sendMail(composedFields(this.from, mail, this.domain)));
      return oneLine(String(info.response ?? "accepted"));
    } catch (error) {
      throw error instanceof MailDeliveryError ? error : describeSmtpError(error);
    }
  }

  async verify(): Promise<string> {
    try {
      await this.withDeadline(this.transporter.verify());
      return `${this.description} accepts connections${this.settings.user !== null ? " and the login" : ""}`;
    } catch (error) {
      throw error instanceof MailDeliveryError ? error : describeSmtpError(error);
    }
  }

  /**
   * nodemailer's timeouts bound each wait (connect, greeting, each answer); this bounds the whole
   * conversation, so a server that answers slowly forever still gives up.
   */
  private withDeadline<T>(work: Promise<T>): Promise<T> {
    const limit = this.settings.timeoutMs * 3;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new MailDeliveryError(`ETIMEDOUT no answer within ${limit / 1000}s`, false)), limit);
      timer.unref();
    });
    work.catch(() => {});
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
}

class FileTransport implements MailTransport {
  readonly description: string;
  private readonly composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" });

  constructor(
    private readonly settings: FileSettings,
    private readonly from: Mailbox,
    private readonly domain: string,
  ) {
    this.description = describeTransport(settings);
  }

  async deliver(mail: OutgoingMail): Promise<string> {
    const info = await this.composer.sendMail(composedFields(this.from, mail, this.domain));
    const raw = info.message as Buffer;
    // Sorted by time when listed; written under another name first so a reader never sees half a message.
    const name = `${new Date().toISOString().replace(/[:.]/g, "-")}-${randomBytes(6).toString("hex")}.eml`;
    const final = path.join(this.settings.directory, name);
    const partial = path.join(this.settings.directory, `.${name}.partial`);
    try {
      await fs.promises.writeFile(partial, raw, { mode: 0o600, flag: "wx" });
      await fs.promises.rename(partial, final);
    } catch (error) {
      await fs.promises.rm(partial, { force: true }).catch(() => {});
      throw new MailDeliveryError(oneLine(`cannot write to ${this.settings.directory}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`), false);
    }
    return `written to ${final}`;
  }

  async verify(): Promise<string> {
    try {
      const stat = await fs.promises.stat(this.settings.directory);
      if (!stat.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
      await fs.promises.access(this.settings.directory, fs.constants.W_OK | fs.constants.X_OK);
    } catch (error) {
      throw new MailDeliveryError(oneLine(`cannot write to ${this.settings.directory}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`), false);
    }
    return `${this.description} is writable`;
  }
}

/** `domain`: the host of the login server's public URL, for Message-IDs and the SMTP greeting. */
export function createTransport(settings: MailSettings, domain: string): MailTransport {
  return settings.transport.kind === "smtp" ? new SmtpTransport(settings.transport, settings.from, domain) : new FileTransport(settings.transport, settings.from, domain);
}
