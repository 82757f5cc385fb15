/**
 * CAS single logout: when an ssoctl session ends, each service that got a ticket in it receives a
 * back-channel SAML `logoutRequest` POST naming that ticket (mod_auth_cas with `CASSSOEnabled On`
 * then drops its own session). Best effort: a short timeout, no redirects followed, never awaited
 * by the user's logout, every attempt audited. A POST goes only to the exact service URL that
 * received the ticket, and only while its app is still registered: no requests anywhere else.
 */
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../../audit.js";
import type { CasTicket, Store } from "../../store/store.js";
import { escapeXml } from "./xml.js";

export const SINGLE_LOGOUT_TIMEOUT_MS = 3000;
/** How often a server looks for sessions ended outside it (CLI revocation, expiry). */
export const SINGLE_LOGOUT_SWEEP_MS = 30_000;

/** The SAML 2 LogoutRequest of the CAS protocol: SessionIndex is the service ticket. Pure. */
export function logoutRequestXml(ticketId: string, now: number, requestId: string): string {
  return (
    `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
    ` ID="${escapeXml(requestId)}" Version="2.0" IssueInstant="${new Date(now * 1000).toISOString()}">` +
    `<saml:NameID>@NOT_USED@</saml:NameID>` +
    `<samlp:SessionIndex>${escapeXml(ticketId)}</samlp:SessionIndex>` +
    `</samlp:LogoutRequest>`
  );
}

export interface SingleLogoutDeps {
  store: Store;
  audit: AuditLog;
  /** The URL to POST to when `service` still belongs to a registered app; null otherwise. */
  registeredService(service: string): Promise<string | null>;
  timeoutMs?: number;
}

export class SingleLogout {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: SingleLogoutDeps) {}

  /** Tells every service that got a ticket in the session; returns at once, the POSTs run on their own. */
  sessionEnded(ended: { sessionId: string; username: string }, now: number): void {
    const run = this.notify(ended, now).catch(() => {});
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  /** Settles when every notification started so far has finished (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /**
   * Tells the services of sessions that ended elsewhere: revoked by the CLI, users disabled, removed
   * or given a new password, sessions expired. Run on a timer by each server; the store hands each
   * ticket to one server only.
   */
  async sweep(now: number): Promise<void> {
    const tickets = await this.deps.store.takeCasTicketsOfEndedSessions(now);
    await Promise.all(tickets.map((ticket) => this.tell(ticket, now)));
  }

  private async notify(ended: { sessionId: string; username: string }, now: number): Promise<void> {
    let tickets: CasTicket[];
    try {
      tickets = await this.deps.store.takeCasTicketsOfSession(ended.sessionId);
    } catch (error) {
      await this.deps.audit.record("cas.single_logout", { username: ended.username, session: ended.sessionId, outcome: "store_failed", error: (error as Error).message }, now);
      return;
    }
    await Promise.all(tickets.map((ticket) => this.tell(ticket, now)));
  }

  private async tell(ticket: CasTicket, now: number): Promise<void> {
    const fields = { username: ticket.username, session: ticket.sessionId, service: ticket.service.slice(0, 200) };
    const url = await this.deps.registeredService(ticket.service).catch(() => null);
    if (url === null) {
      await this.deps.audit.record("cas.single_logout", { ...fields, outcome: "not_registered" }, now);
      return;
    }
    const xml = logoutRequestXml(ticket.id, now, "LR-" + randomBytes(16).toString("hex"));
    const timeout = this.deps.timeoutMs ?? SINGLE_LOGOUT_TIMEOUT_MS;
    try {
      // undici (~10 MiB) loads at the first single logout, not with every server.
      const { request } = await import("undici");
      const answer = await request(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "logoutRequest=" + encodeURIComponent(xml),
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: AbortSignal.timeout(timeout),
        // undici's request follows no redirect: the POST reaches the registered URL and nothing else.
      });
      // mod_auth_cas answers its logout with a redirect; any answer means it was delivered.
      await answer.body.dump();
      await this.deps.audit.record("cas.single_logout", { ...fields, outcome: "sent", status: answer.statusCode }, now);
    } catch (error) {
      await this.deps.audit.record("cas.single_logout", { ...fields, outcome: "failed", error: (error as Error).message.slice(0, 200) }, now);
    }
  }
}
