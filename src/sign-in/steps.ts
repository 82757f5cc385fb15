/**
 * The sign-in journey as data: given the factors a user has, what this sign-in (or session) has
 * proved so far and what the access gate answers for the target, the next thing the browser must
 * show. Pure: every way in (the login form, passkeys, invitation and reset links, the account
 * page, CAS, OIDC, SAML) asks the same function and renders its answer.
 *
 * @example
 * nextStep({ held: { totp: true, passkey: false }, done: ["pwd"], signedIn: false, verdict: null, enrolment: "open" })
 * // → { next: "second_factor", offer: ["code"] }
 */
import type { Verdict } from "../access/decide.js";

/** What a sign-in proved: the password, a TOTP (or recovery) code, a passkey with user verification. */
export type Factor = "pwd" | "otp" | "hwk";

/** The second factors a user has enrolled. */
export interface FactorsHeld {
  totp: boolean;
  passkey: boolean;
}

/**
 * How a user without a second factor meets a target that asks for two: `open` lets them enrol one
 * right there with the password (small setups); `strict` refuses, and enrolment happens only
 * through an invitation, the account page after an admin allowed it, or the CLI.
 */
export type EnrolmentChoice = "open" | "strict";

export interface JourneyState {
  held: FactorsHeld;
  /** What this sign-in has proved so far, or the session's amr once signed in. */
  done: readonly string[];
  /** Whether a session exists already (its amr is `done`). */
  signedIn: boolean;
  /** The access gate's answer for the target with `done`; null when there is no target. */
  verdict: Verdict | null;
  enrolment: EnrolmentChoice;
}

export type SecondFactorOffer = "code" | "passkey";

export type Step =
  /** Who are you: the sign-in form (password, or a passkey). */
  | { next: "password" }
  /** The password is right; the user has a second factor and passes it before any session exists. */
  | { next: "second_factor"; offer: SecondFactorOffer[] }
  /** Every factor the user has is done: issue the session with this amr (then ask again, signed in). */
  | { next: "session"; amr: Factor[] }
  /** Signed in, allowed: on to the target. */
  | { next: "go" }
  /** Signed in with one factor; the target wants two and the user has one: prove it, then the session is upgraded. */
  | { next: "step_up"; offer: SecondFactorOffer[] }
  /** Signed in with one factor, no second factor enrolled, and enrolment is open: enrol one right here. */
  | { next: "enrol" }
  /** Signed in, but this target is not for them (or for anyone, `deny`; or needs a factor they may not enrol here). */
  | { next: "forbidden"; kind: "forbidden" | "deny" | "second_factor" };

/** True when `done` counts as two factors: a passkey with user verification alone does. */
export function hasTwoFactors(done: readonly string[]): boolean {
  return done.includes("hwk") || (done.includes("pwd") && done.includes("otp"));
}

function offerOf(held: FactorsHeld): SecondFactorOffer[] {
  return [...(held.totp ? (["code"] as const) : []), ...(held.passkey ? (["passkey"] as const) : [])];
}

export function nextStep(state: JourneyState): Step {
  const { held, done } = state;
  const known = done.filter((f): f is Factor => f === "pwd" || f === "otp" || f === "hwk");
  if (known.length === 0) return { next: "password" };
  if (!state.signedIn) {
    // A user with a second factor always passes one of them: no session is made with the password alone.
    if ((held.totp || held.passkey) && !hasTwoFactors(known)) return { next: "second_factor", offer: offerOf(held) };
    return { next: "session", amr: known };
  }
  switch (state.verdict) {
    case null:
    case "allow":
      return { next: "go" };
    case "login":
      return { next: "password" };
    case "second_factor":
      if (held.totp || held.passkey) return { next: "step_up", offer: offerOf(held) };
      return state.enrolment === "open" ? { next: "enrol" } : { next: "forbidden", kind: "second_factor" };
    case "forbidden":
    case "deny":
      return { next: "forbidden", kind: state.verdict };
  }
}

/**
 * Credential changes (password, TOTP, recovery codes, passkeys) need a session with the user's
 * strongest factor, signed in within this many seconds; otherwise the user signs in again.
 */
export const CREDENTIAL_CHANGE_WINDOW_SECONDS = 10 * 60;

/**
 * Whether a session may change the user's credentials: signed in within the window, and with two
 * factors when the user has a second factor (with the password alone when they have none).
 */
export function mayChangeCredentials(session: { amr: readonly string[]; signedInAt: number }, held: FactorsHeld, now: number): boolean {
  if (now - session.signedInAt > CREDENTIAL_CHANGE_WINDOW_SECONDS) return false;
  if (held.totp || held.passkey) return hasTwoFactors(session.amr);
  return session.amr.length > 0;
}

/** How long an invitation or reset link lets its user enrol a second factor on the account page under strict enrolment. */
export const ENROLMENT_ALLOWANCE_SECONDS = 60 * 60;

/**
 * Whether the account page may enrol a second factor for this user: always with open enrolment,
 * or when the user has one already (adding another is a credential change, see
 * `mayChangeCredentials`); under strict enrolment a user with none needs an admin's allowance
 * (an invitation or reset link just used), else the admin enrols them (`ssoctl user totp enroll`).
 */
export function mayEnrolHere(state: { held: FactorsHeld; enrolment: EnrolmentChoice; allowedUntil: number | null }, now: number): boolean {
  if (state.enrolment === "open" || state.held.totp || state.held.passkey) return true;
  return state.allowedUntil !== null && state.allowedUntil > now;
}

/** The setting that holds a user's enrolment allowance (a time), keyed by the lower-cased name. */
export function enrolmentAllowanceKey(username: string): string {
  return `enrolment_allowed:${username.toLowerCase()}`;
}
