/**
 * The sign-in journey (DESIGN §17): from "who are you" (password, passkey, invitation or reset
 * link) through each factor the user has, the access decision for the target, step-up or
 * enrolment, to the one place a session is issued, upgraded or replaced.
 *
 * - `nextStep(state)` (steps.ts): the next step as data — `{ next: "second_factor", offer }`,
 *   `{ next: "session", amr }`, `{ next: "step_up" }`, `{ next: "enrol" }`, `{ next: "forbidden", kind }`, `{ next: "go" }`.
 * - `startSession` / `upgradeSession` (session.ts): the only code that issues or replaces a session.
 * - `reauthentication(...)`, `freshSignInMark` (fresh.ts): CAS `renew`, OIDC `prompt=login` and
 *   `max_age`, SAML `ForceAuthn` — the user signs in again with every factor they have.
 * - `mayChangeCredentials` (steps.ts): the rule for adding or removing a credential.
 * - `SignIn` (password.ts): one password check, throttled, through the bounded hash queue.
 */
export * from "./steps.js";
export * from "./session.js";
export * from "./held.js";
export * from "./fresh.js";
export * from "./password.js";
