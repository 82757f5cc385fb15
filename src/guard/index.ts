/**
 * The Node guard: WebStack's `LoginRedirectResource` as Connect-style middleware.
 * Imports neither SQLite nor argon2, so any app can load it.
 *
 * @example
 * import { loginRedirect } from "ssoctl/guard";
 * app.use(loginRedirect({
 *   loginUrl: "https://login.example.com/login",
 *   appUrl: "https://app.example.com",
 *   secretKey: process.env.SSOCTL_SECRET_KEY!,
 * }));
 * // later: (req as GuardedRequest).user → { name: "alice", anonymous: false }
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolveGuardConfig, type GuardUser, type LoginRedirectOptions } from "./config.js";
import { decide, type GuardDecision } from "./decide.js";
import { appendSetCookie, writeGuardResponse } from "./response.js";

export type { GuardUser, LoginRedirectOptions } from "./config.js";

/** A request the guard let through. */
export type GuardedRequest = IncomingMessage & { user: GuardUser };

export type GuardMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Creates the guard. Options are checked now: a mistake throws a TypeError here,
 * never at the first request.
 */
export function loginRedirect(options: LoginRedirectOptions): GuardMiddleware {
  const config = resolveGuardConfig(options);
  return function ssoctlGuard(req, res, next) {
    // Express rewrites req.url under a mount path; the browser's path is originalUrl.
    const original = (req as { originalUrl?: unknown }).originalUrl;
    const target = typeof original === "string" ? original : req.url;
    decide(config, { target, cookieHeader: req.headers.cookie }).then(
      (decision: GuardDecision) => {
        if (decision.action === "respond") {
          writeGuardResponse(res, decision.response);
          return;
        }
        if (decision.setCookie !== undefined) appendSetCookie(res, decision.setCookie);
        // Only a `bypass` policy lets nobody through, and the options cannot set one: null never reaches here in practice.
        if (decision.user === null) {
          next(new Error("ssoctl guard: no user to set"));
          return;
        }
        (req as GuardedRequest).user = decision.user;
        next();
      },
      (error: unknown) => next(error),
    );
  };
}
