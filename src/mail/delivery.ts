/** A message ready to leave, and what a way of sending it promises. No I/O here: nodemailer loads only with a transport. */
import type { Mailbox } from "./address.js";

export interface OutgoingMail {
  to: Mailbox;
  subject: string;
  text: string;
  html: string;
  /** What it is, for logs, audit and metrics: "password-reset", "invitation", "notice", "test". */
  kind: string;
  /** The account it is about, for logs and audit (the address is never logged). */
  username: string | null;
}

/** A refused or failed delivery; `permanent` when trying again cannot help (a 5xx answer). */
export class MailDeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = "MailDeliveryError";
  }
}

export interface MailTransport {
  /** Where mail goes, e.g. `SMTP mail.example.com:587 (STARTTLS, AUTH)`. */
  readonly description: string;
  /** Sends one message; resolves with the server's last answer (or the file written). Throws MailDeliveryError. */
  deliver(mail: OutgoingMail): Promise<string>;
  /** Checks the way out without sending: connects, STARTTLS, AUTH; or the directory is writable. */
  verify(): Promise<string>;
}
