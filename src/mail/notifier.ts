/**
 * The notifier: what the rest of ssoctl calls to mail someone. It renders the message, refuses
 * one that could not be sent safely (a bad address, a line break in a header), and hands it to
 * the outbox. `send` never throws and never waits: the user's action goes on whatever mail does.
 */
import { headerTextProblem, isEmailAddress } from "./address.js";
import { Outbox, type OutboxOptions } from "./outbox.js";
import type { MailSettings } from "./settings.js";
import { MailTemplates, type MailKind } from "./templates.js";
import type { MailTransport, OutgoingMail } from "./delivery.js";
import { createTransport } from "./transport.js";

export interface Recipient {
  address: string;
  /** The display name, "" for none. */
  name: string;
  /** The account the mail is about, for logs and audit. */
  username: string | null;
}

export interface NotifierOptions {
  title: string;
  publicUrl: string;
  viewsDir?: string | undefined;
  /** Replaces the transport the settings name (tests). */
  transport?: MailTransport;
  outbox?: Omit<OutboxOptions, "transport">;
}

/** The host of a URL for Message-IDs and the SMTP greeting; an IP address is bracketed as SMTP writes it. */
export function mailDomain(publicUrl: string): string {
  const host = new URL(publicUrl).hostname;
  if (/^[0-9.]+$/.test(host)) return `[${host}]`;
  if (host.startsWith("[")) return `[IPv6:${host.slice(1, -1)}]`;
  return host;
}

export class Notifier {
  readonly outbox: Outbox;
  private readonly templates: MailTemplates;

  constructor(
    readonly settings: MailSettings,
    options: NotifierOptions,
  ) {
    this.templates = new MailTemplates({ title: options.title, publicUrl: options.publicUrl }, options.viewsDir);
    const transport = options.transport ?? createTransport(settings, mailDomain(options.publicUrl));
    this.outbox = new Outbox({ ...options.outbox, transport });
  }

  /** Queues a message; false when it was refused or the outbox is full (both logged and counted). */
  send(kind: MailKind, to: Recipient, values: Record<string, unknown>): boolean {
    let mail: OutgoingMail;
    try {
      mail = this.compose(kind, to, values);
    } catch (error) {
      this.outbox.refuse(kind, to.username, (error as Error).message);
      return false;
    }
    return this.outbox.enqueue(mail);
  }

  /**
   * Sends at once, past the outbox, and answers with the server's reply: for `ssoctl mail test`.
   * Throws a TypeError for a refused message, a MailDeliveryError for a failed one.
   */
  async sendNow(kind: MailKind, to: Recipient, values: Record<string, unknown>): Promise<string> {
    return this.outbox.transport.deliver(this.compose(kind, to, values));
  }

  /** Throws a TypeError saying why the message cannot be sent. */
  private compose(kind: MailKind, to: Recipient, values: Record<string, unknown>): OutgoingMail {
    if (!isEmailAddress(to.address)) throw new TypeError(`"${to.address.replace(/[^\x20-\x7e]/g, "?").slice(0, 100)}" is not an email address`);
    const nameProblem = headerTextProblem(to.name, "the recipient's name");
    if (nameProblem !== null) throw new TypeError(nameProblem);
    const rendered = this.templates.render(kind, values);
    return { to: { name: to.name, address: to.address }, kind, username: to.username, ...rendered };
  }
}
