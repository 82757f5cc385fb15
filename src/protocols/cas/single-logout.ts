/**
 * CAS single logout: when an ssoctl session ends, each service that got a ticket in it receives a
 * back-channel SAML `logoutRequest` POST naming that ticket (mod_auth_cas with `CASSSOEnabled On`
 * then drops its own session). Best effort: a short timeout, no redirects followed, never awaited
 * by the user's logout, every attempt audited. A POST goes only to the exact service URL that
 * received the ticket, and only while its app is still registered: no requests anywhere else.
 * Bounded whatever a session holds: one POST per distinct service URL (its newest ticket), at
 * most SINGLE_LOGOUT_MAX_SERVICES per session, at most SINGLE_LOGOUT_CONCURRENCY at once.
 */
import { randomBytes } from "node:crypto";
import type { AuditLog } from "../../audit.js";
import type { CasTicket, Store } from "../../store/store.js";
import { escapeXml } from "./xml.js";

export const SINGLE_LOGOUT_TIMEOUT_MS = 3000;
/** How often a server looks for sessions ended outside it (CLI revocation, expiry). */
export const SINGLE_LOGOUT_SWEEP_MS = 30_000;

/** Services told per ended session; the rest are audited as `over_cap`. */
export const SINGLE_LOGOUT_MAX_SERVICES = 20;
/** Logout POSTs in flight at once, across every ended session. */
export const SINGLE_LOGOUT_CONCURRENCY = 4;

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

/**
 * The form body of the logout POST: the standard `logoutRequest` field, with the XML left as it is
 * except the characters form decoding would change (`%`, `&`, `+`, and space as `+`). A form parser
 * (phpCAS, mod_auth_cas, Apereo's Java client) reads the same XML out of the field, and a client
 * that matches `<samlp:SessionIndex>…</samlp:SessionIndex>` in the raw body (connect-cas2) finds it.
 */
export function logoutRequestBody(xml: string): string {
  return "logoutRequest=" + xml.replace(/[%&+ ]/g, (c) => (c === " " ? "+" : `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
}

/**
 * What to tell of a session's tickets: per exact service URL its newest ticket (a client keeps
 * one session per browser, the latest sign-in's), at most `max` services. Pure.
 */
export function ticketsToTell(tickets: readonly CasTicket[], max: number): { tell: CasTicket[]; skipped: CasTicket[] } {
  const newest = new Map<string, CasTicket>();
  for (const ticket of tickets) {
    const seen = newest.get(ticket.service);
    if (seen === undefined || ticket.createdAt >= seen.createdAt) newest.set(ticket.service, ticket);
  }
  const distinct = [...newest.values()].sort((a, b) => b.createdAt - a.createdAt);
  const tell = distinct.slice(0, max);
  const told = new Set(tell);
  return { tell, skipped: tickets.filter((t) => !told.has(t)) };
}

export interface SingleLogoutDeps {
  store: Store;
  audit: AuditLog;
  /** The URL to POST to when `service` still belongs to a registered app; null otherwise. */
  registeredService(service: string): Promise<string | null>;
  timeoutMs?: number;
  maxServices?: number;
  concurrency?: number;
}

export class SingleLogout {
  private readonly inFlight = new Set<Promise<void>>();
  private posting = 0;
  private readonly waiting: Array<() => void> = [];

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
    const bySession = new Map<string, CasTicket[]>();
    for (const ticket of tickets) bySession.set(ticket.sessionId, [...(bySession.get(ticket.sessionId) ?? []), ticket]);
    await Promise.all([...bySession.values()].map((ofSession) => this.tellSession(ofSession, now)));
  }

  private async notify(ended: { sessionId: string; username: string }, now: number): Promise<void> {
    let tickets: CasTicket[];
    try {
      tickets = await this.deps.store.takeCasTicketsOfSession(ended.sessionId);
    } catch (error) {
      await this.deps.audit.record("cas.single_logout", { username: ended.username, session: ended.sessionId, outcome: "store_failed", error: (error as Error).message }, now);
      return;
    }
    await this.tellSession(tickets, now);
  }

  private async tellSession(tickets: readonly CasTicket[], now: number): Promise<void> {
    const { tell, skipped } = ticketsToTell(tickets, this.deps.maxServices ?? SINGLE_LOGOUT_MAX_SERVICES);
    const first = skipped[0];
    if (first !== undefined) {
      await this.deps.audit.record("cas.single_logout", { username: first.username, session: first.sessionId, outcome: "not_sent", tickets: skipped.length, reason: "same service URL or over the cap" }, now);
    }
    await Promise.all(tell.map((ticket) => this.limited(() => this.tell(ticket, now))));
  }

  /** Runs `work` in one of the concurrency limit's slots; a finished POST hands its slot to the next waiting. */
  private async limited(work: () => Promise<void>): Promise<void> {
    if (this.posting >= (this.deps.concurrency ?? SINGLE_LOGOUT_CONCURRENCY)) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.posting += 1;
    try {
      await work();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.posting -= 1;
    }
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
        body: logoutRequestBody(xml),
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
