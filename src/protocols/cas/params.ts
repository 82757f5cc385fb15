/**
 * Reading CAS request parameters: one value each (a repeated one is refused, never guessed at),
 * flags read fail-closed, and the shape of the `service` URL. Pure. Whether a service belongs
 * to a registered app is checked by the one redirect-target check (src/redirect-target.ts).
 */
import { MAX_TARGET_LENGTH } from "../../redirect-target.js";
import type { CasFailure } from "./xml.js";

export interface LoginParams {
  service: string | null;
  renew: boolean;
  gateway: boolean;
  /** ssoctl's own mark that the browser was sent through the sign-in form (see src/sign-in/fresh.ts). */
  fresh: string | null;
}

export interface ValidateParams {
  service: string;
  ticket: string;
  renew: boolean;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** The parameter carrying ssoctl's fresh sign-in mark through the login form. */
export const FRESH_PARAM = "ssoctl_fresh";

/**
 * A flag is on when present with any value but "false": the CAS spec names `true`, and reading
 * an odd value as "on" is the safe side for `renew` (a fresh sign-in) and harmless for `gateway`.
 */
function flag(value: string | undefined): boolean {
  return value !== undefined && value.toLowerCase() !== "false";
}

function single(params: URLSearchParams, names: readonly string[]): Parsed<Record<string, string | undefined>> {
  const values: Record<string, string | undefined> = {};
  for (const name of names) {
    const all = params.getAll(name);
    if (all.length > 1) return { ok: false, problem: `the parameter "${name}" was given more than once` };
    values[name] = all[0];
  }
  return { ok: true, value: values };
}

/** Why a service string cannot be one, before the registered apps are looked at; null when none. */
export function serviceShapeProblem(service: string): string | null {
  if (service.length > MAX_TARGET_LENGTH) return "the service address is too long";
  // A fragment never reaches the server, so a service with one could never validate its ticket.
  if (service.includes("#")) return "the service address has a fragment (#)";
  return null;
}

export function parseLoginParams(params: URLSearchParams): Parsed<LoginParams> {
  const read = single(params, ["service", "renew", "gateway", FRESH_PARAM]);
  if (!read.ok) return read;
  const { service, renew, gateway } = read.value;
  const fresh = read.value[FRESH_PARAM];
  if (service !== undefined && service !== "") {
    const problem = serviceShapeProblem(service);
    if (problem !== null) return { ok: false, problem };
  }
  return {
    ok: true,
    value: { service: service === undefined || service === "" ? null : service, renew: flag(renew), gateway: flag(gateway), fresh: fresh ?? null },
  };
}

/** `/cas/validate`, `/cas/serviceValidate`, `/cas/p3/serviceValidate`: a CAS failure for anything malformed. */
export function parseValidateParams(params: URLSearchParams): { ok: true; value: ValidateParams } | { ok: false; failure: CasFailure } {
  const read = single(params, ["service", "ticket", "renew"]);
  if (!read.ok) return { ok: false, failure: { code: "INVALID_REQUEST", message: `The request is not valid: ${read.problem}` } };
  const { service, ticket, renew } = read.value;
  if (service === undefined || service === "" || ticket === undefined || ticket === "") {
    return { ok: false, failure: { code: "INVALID_REQUEST", message: "Both service and ticket are required" } };
  }
  const problem = serviceShapeProblem(service);
  if (problem !== null) return { ok: false, failure: { code: "INVALID_REQUEST", message: `The request is not valid: ${problem}` } };
  return { ok: true, value: { service, ticket, renew: flag(renew) } };
}

/** The service a CAS logout names: `service` (CAS 3), else `url` (CAS 2 clients); null when neither or repeated. */
export function logoutRedirect(params: URLSearchParams): string | null {
  const read = single(params, ["service", "url"]);
  if (!read.ok) return null;
  const target = read.value.service || read.value.url;
  return target === undefined || target === "" ? null : target;
}

/**
 * The origin of the service a sign-in form leads on to, when its target is this login server's
 * /cas/login (so the form names the CAS app, not the login server); null for any other target.
 */
export function casServiceOrigin(targetUrl: string, casLoginUrl: string): string | null {
  if (!targetUrl.startsWith(casLoginUrl + "?")) return null;
  const service = new URLSearchParams(targetUrl.slice(casLoginUrl.length + 1)).getAll("service");
  if (service.length !== 1) return null;
  try {
    return new URL(service[0]!).origin;
  } catch {
    return null;
  }
}
