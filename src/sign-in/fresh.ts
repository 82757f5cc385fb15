/**
 * Re-authentication (CAS `renew`, OIDC `prompt=login` and `max_age`, SAML `ForceAuthn`): the
 * user signs in again with every factor they have, whatever session the browser holds, and the
 * sign-in time (`auth_time`) is that moment.
 *
 * A protocol that needs it sends the browser through the sign-in form with a way back that carries
 * a mark: the time it was made and an HMAC of (time, target) under the signing key. Back at the
 * protocol endpoint, a session created at or after that time was made by that form (sessions are
 * only ever issued by a complete sign-in, see session.ts), so it is a fresh sign-in. The HMAC keeps
 * a visitor, or a page linking to the endpoint, from writing an old time into the mark.
 *
 * @example
 * // at the endpoint, before answering from the session:
 * const step = reauthentication({ login, target: service, mark, force: renew }, ctx.keyring.secrets, now);
 * if (step.next === "sign_in_again") return sendSignInForm(ctx, req, res, withMark(service, freshSignInMark(ctx.keyring.current, service, now)));
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** A form left open longer than this signs in afresh but no longer counts as a re-authentication. */
const MARK_LIFETIME_SECONDS = 30 * 60;

function mac(secret: string, target: string, at: number): string {
  return createHmac("sha256", secret).update("ssoctl-fresh-sign-in\0").update(`${at}\0${target}`).digest("hex").slice(0, 32);
}

/** The mark to carry on the way back from the sign-in form to `target` (the protocol's own request). */
export function freshSignInMark(secret: string, target: string, now: number): string {
  return `${now}.${mac(secret, target, now)}`;
}

/** The time a valid, unexpired mark for this target was made; null for anything else. */
export function freshSignInSince(mark: string | null | undefined, target: string, secrets: readonly string[], now: number): number | null {
  if (mark === null || mark === undefined) return null;
  const match = /^(\d{1,12})\.([0-9a-f]{32})$/.exec(mark);
  if (match === null) return null;
  const at = Number(match[1]);
  if (at > now || at + MARK_LIFETIME_SECONDS < now) return null;
  const given = Buffer.from(match[2]!);
  let valid = false;
  for (const secret of secrets) {
    if (timingSafeEqual(Buffer.from(mac(secret, target, at)), given)) valid = true;
  }
  return valid ? at : null;
}

export interface ReauthenticationRequest {
  /** When the browser's session was signed in (the token's `issuedAt`), or null without one. */
  signedInAt: number | null;
  /** The protocol request the mark is bound to (CAS: the service; OIDC: the interaction). */
  target: string;
  /** The mark that came back with the request, if any. */
  mark: string | null | undefined;
  /** A sign-in must be fresh whatever its age (CAS `renew`, OIDC `prompt=login`, SAML `ForceAuthn`). */
  force?: boolean;
  /** A sign-in older than this many seconds must be made again (OIDC `max_age`). */
  maxAgeSeconds?: number | null;
}

export type ReauthenticationStep =
  /** Go on with the session; `authTime` is when it was signed in, `fresh` whether the form just made it. */
  | { next: "go"; authTime: number; fresh: boolean }
  /** Send the browser through the sign-in form (with a new mark on the way back), whatever its session. */
  | { next: "sign_in_again" };

/**
 * Whether the session may answer a request that asks for re-authentication. Without a session the
 * answer is "sign_in_again" too: the caller's ordinary sign-in does the rest.
 */
export function reauthentication(request: ReauthenticationRequest, secrets: readonly string[], now: number): ReauthenticationStep {
  if (request.signedInAt === null) return { next: "sign_in_again" };
  const since = freshSignInSince(request.mark, request.target, secrets, now);
  const fresh = since !== null && request.signedInAt >= since;
  if (request.force === true && !fresh) return { next: "sign_in_again" };
  const maxAge = request.maxAgeSeconds;
  if (maxAge !== null && maxAge !== undefined && now - request.signedInAt > maxAge && !fresh) return { next: "sign_in_again" };
  return { next: "go", authTime: request.signedInAt, fresh };
}
