/**
 * Invitations: a one-time link /invite/<token> where a user sets their own password (the admin never
 * learns it). The token carries 256 random bits; only its SHA-256 is stored; it expires and works once.
 */
import { randomBytes } from "node:crypto";
import { SsoctlError } from "../errors.js";
import { printable } from "../printable.js";
import type { Store, User } from "../store/store.js";
import type { InvitationPurpose } from "../store/factors.js";
import { tokenDigest } from "./pending.js";

export const DEFAULT_INVITATION_TTL = 72 * 3600;
/** A week and a half at most: a link lying in a mailbox should not stay good for long. */
export const MAX_INVITATION_TTL = 30 * 86400;

export interface IssuedInvitation {
  user: User;
  /** The path of the link, `/invite/<token>`; shown once, never stored. */
  path: string;
  expiresAt: number;
}

function newInvitationToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: tokenDigest(token) };
}

/**
 * A link for a user who exists already (new, `user reset`, or "Forgot your password?" with
 * purpose `reset`); replaces any earlier link of theirs.
 */
export async function issueInvitation(store: Store, user: User, ttlSeconds: number, now: number, purpose: InvitationPurpose = "invite"): Promise<IssuedInvitation> {
  if (ttlSeconds < 60 || ttlSeconds > MAX_INVITATION_TTL) throw new SsoctlError("--ttl must be between 1m and 30d");
  const { token, hash } = newInvitationToken();
  const expiresAt = now + ttlSeconds;
  if (!(await store.factors.createInvitation(hash, user.username, expiresAt, now, purpose))) {
    throw new SsoctlError(`no user named "${printable(user.username)}" (see \`ssoctl user list\`)`);
  }
  return { user, path: `/invite/${token}`, expiresAt };
}

/** The token of a /invite/<token> path, or null when the path cannot hold one. */
export function invitationTokenOf(pathname: string): string | null {
  const match = /^\/invite\/([A-Za-z0-9_-]{43})$/.exec(pathname);
  return match === null ? null : match[1]!;
}
