/**
 * `renew=true` asks for a ticket from a fresh sign-in, not from an existing session. When
 * /cas/login sends the browser through the sign-in form, the way back carries a mark: the time it
 * was made and an HMAC of (time, service) under the signing key. Back at /cas/login, a session
 * created at or after that time was made by that form, so its ticket is not "from SSO". The HMAC
 * keeps a visitor (or a page linking to /cas/login) from writing an old time into the mark.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** A form left open longer than this signs in afresh but no longer counts for `renew`. */
const MARK_LIFETIME_SECONDS = 30 * 60;

function mac(secret: string, service: string, at: number): string {
  return createHmac("sha256", secret).update("ssoctl-cas-fresh\0").update(`${at}\0${service}`).digest("hex").slice(0, 32);
}

export function freshSignInMark(secret: string, service: string, now: number): string {
  return `${now}.${mac(secret, service, now)}`;
}

/** The time a valid, unexpired mark for this service was made; null for anything else. */
export function freshSignInSince(mark: string | null, service: string, secrets: readonly string[], now: number): number | null {
  if (mark === null) return null;
  const match = /^(\d{1,12})\.([0-9a-f]{32})$/.exec(mark);
  if (match === null) return null;
  const at = Number(match[1]);
  if (at > now || at + MARK_LIFETIME_SECONDS < now) return null;
  const given = Buffer.from(match[2]!);
  let valid = false;
  for (const secret of secrets) {
    if (timingSafeEqual(Buffer.from(mac(secret, service, at)), given)) valid = true;
  }
  return valid ? at : null;
}
