/** The library side of ssoctl: the token (and the guard), importable without SQLite or argon2. */
export { signToken, verifyToken, keyId, type LoginClaims } from "./token.js";
export { loginRedirect, type GuardUser, type GuardedRequest, type GuardMiddleware, type LoginRedirectOptions } from "./guard/index.js";
