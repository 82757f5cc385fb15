/**
 * CAS service tickets: their shape, their lifetime, and the judgement of one presented for validation.
 * Pure: the store keeps them, the caller passes the clock.
 */
import { randomBytes } from "node:crypto";
import type { CasTicket } from "../../store/store.js";
import type { CasFailure } from "./xml.js";

/** Long enough for a back-channel validation that follows the redirect at once. */
export const SERVICE_TICKET_TTL_SECONDS = 60;

const SERVICE_TICKET_SHAPE = /^ST-[0-9a-f]{40}$/;

/**
 * `ST-` + 40 hex characters. Hex on purpose: mod_auth_cas silently ignores a ticket with
 * characters outside `[A-Za-z0-9.-]` (base64url's `_`), and sends the browser round in a loop.
 */
export function newServiceTicketId(): string {
  return "ST-" + randomBytes(20).toString("hex");
}

export function isServiceTicketShape(text: string): boolean {
  return SERVICE_TICKET_SHAPE.test(text);
}

/**
 * Whether a consumed ticket (null: unknown or already used) answers this validation: unexpired,
 * issued for exactly this service string, and from a fresh sign-in when the client asks `renew`.
 */
export function judgeTicket(ticket: CasTicket | null, presented: { id: string; service: string; renew: boolean }, now: number): CasFailure | null {
  if (ticket === null) return { code: "INVALID_TICKET", message: `Ticket ${presented.id} not recognized` };
  if (ticket.expiresAt <= now) return { code: "INVALID_TICKET", message: `Ticket ${presented.id} has expired` };
  if (ticket.service !== presented.service) {
    return { code: "INVALID_SERVICE", message: `Ticket ${presented.id} was not issued for this service` };
  }
  if (presented.renew && ticket.fromSso) {
    return { code: "INVALID_TICKET", message: `Ticket ${presented.id} was issued from an existing session, and renew was asked` };
  }
  return null;
}

/** The service's URL with the ticket appended as its last query parameter. */
export function withTicket(serviceUrl: string, ticketId: string): string {
  return serviceUrl + (serviceUrl.includes("?") ? "&" : "?") + "ticket=" + ticketId;
}
