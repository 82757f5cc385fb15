/**
 * Enrolling and removing TOTP, for the account page and `ssoctl user totp` (the callers audit): a secret is stored
 * only once a code made from it is confirmed, and the confirming code cannot be used again.
 */
import { SsoctlError } from "../errors.js";
import type { Store } from "../store/store.js";
import { newRecoveryCodes, hashRecoveryCode } from "./recovery-codes.js";
import { matchTotp, normalizeTotpCode } from "./totp.js";

export type EnrolResult = { ok: true; recoveryCodes: string[] } | { ok: false; problem: string };

/** Stores `secret` for the user when `code` is a current code of it; the recovery codes to show once. */
export async function confirmTotp(store: Store, username: string, secret: string, code: string, now: number): Promise<EnrolResult> {
  if (normalizeTotpCode(code) === null) return { ok: false, problem: "Enter the 6-digit code your authenticator app shows." };
  const step = matchTotp(secret, code, now);
  if (step === null) return { ok: false, problem: "That code does not match. Check that the app added the account and that the device's clock is right, then enter the current code." };
  const recoveryCodes = newRecoveryCodes();
  if (!(await store.factors.setTotp(username, secret, recoveryCodes.map(hashRecoveryCode), now))) return { ok: false, problem: "This account no longer exists." };
  await store.factors.useTotpStep(username, step);
  return { ok: true, recoveryCodes };
}

/** Removes TOTP and recovery codes; false when the user had none. */
export async function removeTotp(store: Store, username: string): Promise<boolean> {
  return store.factors.removeTotp(username);
}

/** New recovery codes, replacing the old ones; thrown for a user without TOTP. */
export async function renewRecoveryCodes(store: Store, username: string): Promise<string[]> {
  if ((await store.factors.getTotp(username)) === null) throw new SsoctlError(`${username} has no second factor enrolled`);
  const codes = newRecoveryCodes();
  await store.factors.replaceRecoveryCodes(username, codes.map(hashRecoveryCode));
  return codes;
}
