export const MIN_PASSWORD_CHARACTERS = 8;
export const MAX_PASSWORD_BYTES = 1024;

/** Passwords are compared in NFKC, so the same password typed on two keyboards matches. */
export function normalizePassword(password: string): string {
  return password.normalize("NFKC");
}

/** Returns what is wrong with a new password, or null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  const normalized = normalizePassword(password);
  if ([...normalized].length < MIN_PASSWORD_CHARACTERS) {
    return `a password needs at least ${MIN_PASSWORD_CHARACTERS} characters`;
  }
  if (Buffer.byteLength(normalized, "utf8") > MAX_PASSWORD_BYTES) {
    return `a password has at most ${MAX_PASSWORD_BYTES} bytes`;
  }
  return null;
}
