/**
 * The outbox: messages wait here to be sent, so a slow, hanging or failing mail server never
 * holds up or fails the user's action. Bounded (past the bound a message is dropped, logged and
 * counted), sent one at a time, retried with growing delays on a temporary failure (a
 * connection problem, a 4xx answer, an unwritable directory), given up at once on a 5xx answer.
 * `enqueue` never throws and never waits.
 */
import { addressDomain } from "./address.js";
import { MailDeliveryError, type MailTransport, type OutgoingMail } from "./delivery.js";

export type MailResult = "sent" | "failed" | "retried" | "dropped" | "refused";
export const MAIL_RESULTS: readonly MailResult[] = ["sent", "failed", "retried", "dropped", "refused"];

export interface OutboxOptions {
  transport: MailTransport;
  /** Messages waiting at most (the one being sent included). */
  limit?: number;
  /** Waits before the second, third… attempt, milliseconds; its length + 1 is the number of attempts. */
  retryDelaysMs?: readonly number[];
  /** One JSON line per event; default stderr. */
  log?: (line: string) => void;
  /** Told of each message's end (sent or given up), e.g. for the audit trail. Must not throw. */
  onSettled?: (mail: OutgoingMail, outcome: { result: "sent" | "failed"; detail: string }) => void;
}

export const DEFAULT_OUTBOX_LIMIT = 200;
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [5_000, 30_000, 120_000];

interface Entry {
  mail: OutgoingMail;
  attempt: number;
}

export class Outbox {
  readonly counts: Record<MailResult, number> = { sent: 0, failed: 0, retried: 0, dropped: 0, refused: 0 };
  private readonly waiting: Entry[] = [];
  /** Entries waiting out a retry delay; they count toward the bound. */
  private delayed = 0;
  private sending = false;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleWaiters: Array<() => void> = [];
  private readonly limit: number;
  private readonly delays: readonly number[];
  private readonly log: (line: string) => void;

  constructor(private readonly options: OutboxOptions) {
    this.limit = options.limit ?? DEFAULT_OUTBOX_LIMIT;
    this.delays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.log = options.log ?? ((line) => process.stderr.write(line));
  }

  get transport(): MailTransport {
    return this.options.transport;
  }

  /** Messages not yet sent or given up. */
  get pending(): number {
    return this.waiting.length + this.delayed + (this.sending ? 1 : 0);
  }

  /** Queues a message; false (logged, counted) when the outbox is full or closed. */
  enqueue(mail: OutgoingMail): boolean {
    if (this.closed || this.pending >= this.limit) {
      this.counts.dropped += 1;
      this.event("mail.dropped", mail, { error: this.closed ? "the server is stopping" : `the outbox holds ${this.limit} messages already` });
      return false;
    }
    this.waiting.push({ mail, attempt: 0 });
    this.pump();
    return true;
  }

  /** Counts and logs a message refused before it was queued (a bad address, a line break in a header). */
  refuse(kind: string, username: string | null, reason: string): void {
    this.counts.refused += 1;
    this.log(JSON.stringify({ time: new Date().toISOString(), event: "mail.refused", kind, user: username ?? undefined, error: reason }) + "\n");
  }

  /** Resolves once nothing is waiting or being sent (retries included). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking messages, lets the one being sent finish (up to `graceMs`), and drops what is
   * still waiting, logged: a message that waits for a retry does not hold back a shutdown.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const lost = this.waiting.length + this.delayed;
    this.waiting.length = 0;
    this.delayed = 0;
    if (lost > 0) {
      this.counts.dropped += lost;
      this.log(JSON.stringify({ time: new Date().toISOString(), event: "mail.dropped", count: lost, error: "the server stopped before these were sent" }) + "\n");
    }
    if (this.sending) {
      await Promise.race([this.idle(), new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())]);
    }
    this.settleIdle();
  }

  private pump(): void {
    if (this.sending || this.waiting.length === 0) {
      this.settleIdle();
      return;
    }
    const entry = this.waiting.shift()!;
    this.sending = true;
    void this.attempt(entry).finally(() => {
      this.sending = false;
      this.pump();
    });
  }

  private async attempt(entry: Entry): Promise<void> {
    let detail: string;
    try {
      detail = await this.options.transport.deliver(entry.mail);
    } catch (error) {
      const failure = error instanceof MailDeliveryError ? error : new MailDeliveryError((error as Error)?.message ?? String(error), false);
      const delay = this.delays[entry.attempt];
      if (!failure.permanent && delay !== undefined && !this.closed) {
        this.counts.retried += 1;
        this.event("mail.retry", entry.mail, { attempt: entry.attempt + 1, error: failure.message, retry_in_ms: delay });
        this.delayed += 1;
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.delayed -= 1;
          this.waiting.push({ mail: entry.mail, attempt: entry.attempt + 1 });
          this.pump();
        }, delay);
        timer.unref();
        this.timers.add(timer);
        return;
      }
      this.counts.failed += 1;
      this.event("mail.failed", entry.mail, { attempts: entry.attempt + 1, error: failure.message });
      this.settle(entry.mail, "failed", failure.message);
      return;
    }
    this.counts.sent += 1;
    this.event("mail.sent", entry.mail, { attempts: entry.attempt + 1 });
    this.settle(entry.mail, "sent", detail);
  }

  private settle(mail: OutgoingMail, result: "sent" | "failed", detail: string): void {
    try {
      this.options.onSettled?.(mail, { result, detail });
    } catch {
      // The audit trail logs its own failures; the outbox carries on.
    }
  }

  private settleIdle(): void {
    if (this.pending !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Never the address's local part, the body or a link: the kind, the account, the domain. */
  private event(event: string, mail: OutgoingMail, fields: Record<string, unknown>): void {
    this.log(JSON.stringify({ time: new Date().toISOString(), event, kind: mail.kind, user: mail.username ?? undefined, domain: addressDomain(mail.to.address), via: this.options.transport.description, ...fields }) + "\n");
  }
}
