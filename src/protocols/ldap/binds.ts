/**
 * Who an LDAP bind makes a connection: anonymous, an app's service account, or a user. A user's
 * bind counts as a sign-in to the app of the service account bound on the connection before, and
 * passes what a sign-in passes: the same throttling (src/sign-in.ts, whose locks are checked before
 * any secret is), the password check through its bounded argon2 queue, and the access decision for
 * that app. A user who has a second factor binds only with an app password: LDAP carries no code.
 */
import { timingSafeEqual } from "node:crypto";
import type { AuditLog } from "../../audit.js";
import type { SignIn } from "../../sign-in.js";
import type { LdapAccount } from "../../store/ldap.js";
import type { Store, User } from "../../store/store.js";
import type { AccessDecision } from "../../access/decide.js";
import { hashLdapSecret, normalizeAppPassword } from "./credentials.js";
import { normalizeDn, normalizeValue, parseDn, type Dn } from "./dn.js";
import { RESULT } from "./messages.js";

export type Identity =
  | { kind: "anonymous" }
  | { kind: "service"; account: LdapAccount; dn: string }
  | { kind: "user"; username: string; dn: string };

export type BindResult = { ok: true; identity: Identity } | { ok: false; code: number; message: string };

export interface BindServices {
  store: Store;
  signIn: SignIn;
  audit: AuditLog;
  /** The one access decision, for the app at `origin`. */
  decide(user: User, amr: readonly string[], origin: string): Promise<AccessDecision>;
}

export interface BindRequest {
  name: string;
  password: Buffer;
  /** The service account bound on this connection before, whose app a user's bind is for. */
  account: LdapAccount | null;
  clientAddr: string;
}

/** Longer than any password or app password (password-policy's limit is in bytes too). */
const MAX_SECRET_BYTES = 1024;
/** A hash no secret has: an unknown account's secret is compared against it, so the timing is the same. */
const NO_HASH = "0".repeat(64);

const INVALID: BindResult = { ok: false, code: RESULT.invalidCredentials, message: "invalid credentials" };

/** `cn=NAME,ou=services,BASE` → NAME; `uid=NAME,ou=people,BASE` → NAME; anything else null. */
export function bindTarget(dn: Dn, baseNdn: string): { kind: "service" | "user"; name: string } | null {
  if (dn.length < 3 || dn[0]!.length !== 1 || dn[1]!.length !== 1) return null;
  if (normalizeDn(dn.slice(2)) !== baseNdn) return null;
  const [first, second] = [dn[0]![0]!, dn[1]![0]!];
  const ou = normalizeValue(second.value);
  if (second.type === "ou" && ou === "services" && first.type === "cn") return { kind: "service", name: first.value };
  if (second.type === "ou" && ou === "people" && first.type === "uid") return { kind: "user", name: first.value };
  return null;
}

export async function bindConnection(services: BindServices, baseNdn: string, request: BindRequest, now: number): Promise<BindResult> {
  if (request.name === "" && request.password.length === 0) return { ok: true, identity: { kind: "anonymous" } };
  // RFC 4513 §5.1.2: a name with no password is an "unauthenticated bind", which must not pass for a sign-in.
  if (request.password.length === 0) return { ok: false, code: RESULT.unwillingToPerform, message: "unauthenticated binds (a name with an empty password) are not allowed" };
  let dn: Dn;
  try {
    dn = parseDn(request.name);
  } catch {
    return { ok: false, code: RESULT.invalidDnSyntax, message: "the bind name is not a DN" };
  }
  const target = bindTarget(dn, baseNdn);
  if (target === null || request.password.length > MAX_SECRET_BYTES) return INVALID;
  const password = request.password.toString("utf8");
  return target.kind === "service"
    ? bindService(services, target.name, password, request, now)
    : bindUser(services, target.name, password, request, now);
}

async function bindService(services: BindServices, name: string, password: string, request: BindRequest, now: number): Promise<BindResult> {
  // Throttled like a username, under a key no username can be (usernames have no colon).
  const key = `ldap-account:${name.toLowerCase()}`;
  if ((await services.signIn.lockOf(key, request.clientAddr, now)) !== null) return { ok: false, code: RESULT.invalidCredentials, message: "too many failed binds; try again later" };
  const account = await services.store.ldap.getLdapAccount(name);
  const presented = Buffer.from(hashLdapSecret(password), "hex");
  const matches = timingSafeEqual(presented, Buffer.from(account?.secretHash ?? NO_HASH, "hex")) && account !== null;
  if (!matches) {
    await services.signIn.countFailure(key, request.clientAddr, now);
    await services.audit.record("ldap.bind_failed", { account: name, reason: account === null ? "unknown_account" : "bad_password", addr: request.clientAddr }, now);
    return INVALID;
  }
  const { secretHash: _hash, ...found } = account;
  await services.store.clearThrottle("user", key);
  await services.store.ldap.useLdapAccount(found.name, now);
  return { ok: true, identity: { kind: "service", account: found, dn: request.name } };
}

async function hasSecondFactor(store: Store, username: string): Promise<boolean> {
  return (await store.factors.getTotp(username)) !== null || (await store.factors.listPasskeys(username)).length > 0;
}

async function bindUser(services: BindServices, username: string, password: string, request: BindRequest, now: number): Promise<BindResult> {
  const { store, signIn, audit } = services;
  const account = request.account;
  if (account === null) {
    // Which app's rules would apply is not known: an app binds its users after its own service account.
    await audit.record("ldap.bind_failed", { username, reason: "no_service_account", addr: request.clientAddr }, now);
    return { ok: false, code: RESULT.invalidCredentials, message: "invalid credentials (bind as the app's service account first)" };
  }
  const refuse = async (reason: string, result: BindResult = INVALID): Promise<BindResult> => {
    await audit.record("ldap.bind_failed", { username, reason, app: account.appOrigin, account: account.name, addr: request.clientAddr }, now);
    return result;
  };
  const lock = await signIn.lockOf(username.toLowerCase(), request.clientAddr, now);
  if (lock !== null) return refuse("throttled", { ok: false, code: RESULT.invalidCredentials, message: "too many failed sign-ins; try again later" });

  const appPassword = normalizeAppPassword(password);
  const found = appPassword === null ? null : await store.ldap.findAppPassword(username, hashLdapSecret(appPassword));
  let user: User | null;
  let amr: string[];
  let via: "password" | "app_password";
  if (found !== null) {
    user = await store.getUser(username);
    if (user === null || user.disabled) {
      await signIn.countFailure(username, request.clientAddr, now);
      return refuse(user === null ? "unknown_user" : "disabled");
    }
    await store.clearThrottle("user", username.toLowerCase());
    await store.ldap.useAppPassword(found.id, now);
    via = "app_password";
    // An app password stands for the factors its user has: it is made only by someone who passed them (or the admin).
    amr = (await hasSecondFactor(store, user.username)) ? ["pwd", "app"] : ["pwd"];
  } else {
    // The password check runs for everyone (unknown users against a dummy hash), so timing says nothing.
    const result = await signIn.attempt({ username, password, clientAddr: request.clientAddr }, now);
    if (result.kind === "busy") return refuse("busy", { ok: false, code: RESULT.busy, message: "the server is busy; try again shortly" });
    if (result.kind === "throttled") return refuse("throttled", { ok: false, code: RESULT.invalidCredentials, message: "too many failed sign-ins; try again later" });
    if (result.kind === "unavailable") return refuse("directory_unreachable", { ok: false, code: RESULT.unavailable, message: "the directory is unreachable" });
    if (result.kind === "invalid") return refuse(result.reason);
    user = result.user;
    if (await hasSecondFactor(store, user.username)) {
      await signIn.countFailure(username, request.clientAddr, now);
      // The same answer as a wrong password: a refusal must not confirm a stolen password.
      return refuse("second_factor_needs_app_password");
    }
    via = "password";
    amr = ["pwd"];
  }
  const decision = await services.decide(user, amr, account.appOrigin);
  if (decision.verdict !== "allow") {
    await audit.record(
      "access.denied",
      { username: user.username, app: account.appOrigin, path: "/", method: "BIND", reason: decision.reason, rule: decision.ruleId, via: "ldap", addr: request.clientAddr },
      now,
    );
    return { ok: false, code: RESULT.invalidCredentials, message: "invalid credentials" };
  }
  await store.recordLogin(user.username, now);
  await audit.record("ldap.bind", { username: user.username, via, app: account.appOrigin, account: account.name, addr: request.clientAddr }, now);
  return { ok: true, identity: { kind: "user", username: user.username, dn: request.name } };
}
