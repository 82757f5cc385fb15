/**
 * Tokens that name a short server-side record (a half-done sign-in, a WebAuthn challenge, an
 * enrolment in progress, an invitation): 128 random bits handed to the browser, only their
 * SHA-256 stored, so the table alone lets nobody continue anything.
 */
import { createHash, randomBytes } from "node:crypto";

/** How long a half-done sign-in or a challenge lives. */
export const PENDING_TTL_SECONDS = 5 * 60;

export function newPendingToken(): { token: string; id: string } {
  const token = randomBytes(16).toString("base64url");
  return { token, id: tokenDigest(token) };
}

/** The stored id of a token from a form or a link; null when it cannot be one of ours. */
export function pendingIdOf(token: string | undefined): string | null {
  if (token === undefined || !/^[A-Za-z0-9_-]{22,64}$/.test(token)) return null;
  return tokenDigest(token);
}

export function tokenDigest(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}
