/**
 * Checking a second-factor code for a user: a TOTP code (once per time step) or a recovery code
 * (once each). Wrong codes are counted per user apart from wrong passwords (scope `code`), so a
 * right password never clears them: only a completed sign-in does (src/sign-in/session.ts). A
 * locked user (by codes or passwords) or address is refused before anything is compared.
 */
import { addressKey, lockedFor, type ThrottlePolicy } from "../throttle.js";
import type { Store } from "../store/store.js";
import { matchTotp, normalizeTotpCode } from "./totp.js";
import { findRecoveryCode, normalizeRecoveryCode } from "./recovery-codes.js";

export type CodeCheck =
  | { kind: "ok"; method: "otp" | "recovery"; recoveryLeft?: number }
  /** Neither 6 digits nor a recovery code: a typing slip, told so, not counted as a guess. */
  | { kind: "malformed" }
  /** Wrong, replayed (already used) or no TOTP enrolled: counted. */
  | { kind: "wrong"; reason: "wrong_code" | "replayed" | "not_enrolled" }
  | { kind: "throttled"; retryAfter: number; scope: "user" | "addr" };

export async function checkSecondFactor(
  store: Store,
  policy: ThrottlePolicy,
  attempt: { username: string; code: string; clientAddr: string },
  now: number,
): Promise<CodeCheck> {
  const userKey = attempt.username.toLowerCase();
  const userLock = Math.max(lockedFor(await store.getThrottle("code", userKey), now), lockedFor(await store.getThrottle("user", userKey), now));
  if (userLock > 0) return { kind: "throttled", retryAfter: userLock, scope: "user" };
  const addrLock = lockedFor(await store.getThrottle("addr", addressKey(attempt.clientAddr, policy.ipv6Prefix)), now);
  if (addrLock > 0) return { kind: "throttled", retryAfter: addrLock, scope: "addr" };

  const isTotp = normalizeTotpCode(attempt.code) !== null;
  const isRecovery = !isTotp && normalizeRecoveryCode(attempt.code) !== null;
  if (!isTotp && !isRecovery) return { kind: "malformed" };

  let failure: "wrong_code" | "replayed" | "not_enrolled" = "wrong_code";
  const totp = await store.factors.getTotp(attempt.username);
  if (totp === null) {
    failure = "not_enrolled";
  } else if (isTotp) {
    const step = matchTotp(totp.secret, attempt.code, now, totp.lastStep);
    // The conditional write decides between two sign-ins racing with the same code.
    if (step !== null && (await store.factors.useTotpStep(attempt.username, step))) return { kind: "ok", method: "otp" };
    if (step !== null || matchTotp(totp.secret, attempt.code, now, 0) !== null) failure = "replayed";
  } else {
    const codes = await store.factors.recoveryCodes(attempt.username);
    const found = findRecoveryCode(codes, attempt.code);
    if (found !== null && (await store.factors.useRecoveryCode(found.id, now))) {
      return { kind: "ok", method: "recovery", recoveryLeft: codes.length - 1 };
    }
  }
  await store.recordFailure("code", userKey, policy.user, now);
  await store.recordFailure("addr", addressKey(attempt.clientAddr, policy.ipv6Prefix), policy.addr, now);
  return { kind: "wrong", reason: failure };
}

/** What the code page says for a refused code. */
export function codeCheckMessage(check: Exclude<CodeCheck, { kind: "ok" }>): string {
  switch (check.kind) {
    case "malformed":
      return "Enter the 6-digit code from your authenticator app, or one of your recovery codes.";
    case "wrong":
      return check.reason === "replayed"
        ? "That code was already used. Wait for the next code in your app and enter it."
        : "That code is not correct. Check the time on your device and try the current code.";
    case "throttled": {
      const minutes = Math.ceil(check.retryAfter / 60);
      return `Too many wrong codes. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
    }
  }
}
