import { printable } from "./printable.js";

const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

/** Usernames: 1–64 of `A-Z a-z 0-9 . _ @ -`. Uniqueness (case-insensitive) is the store's job. */
export function isValidUsername(name: string): boolean {
  return USERNAME.test(name);
}

export function usernameProblem(name: string): string | null {
  if (name.length === 0) return "a username cannot be empty";
  if (name.length > 64) return "a username has at most 64 characters";
  if (!USERNAME.test(name)) return `username "${printable(name)}" may contain only letters, digits, ".", "_", "@" and "-"`;
  return null;
}

/** The name guards give anonymous visitors by default; no real user may have it. */
export const ANONYMOUS_USERNAME = "anonymous";

/**
 * Whether a name is kept for anonymous visitors (any case): no user can be added or signed in by it,
 * so `Remote-User: anonymous` or `req.user.name === "anonymous"` never means a real account.
 */
export function isReservedUsername(name: string): boolean {
  return name.toLowerCase() === ANONYMOUS_USERNAME;
}
