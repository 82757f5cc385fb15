/** Where a sign-in leads afterwards: the target fields of a request (`rd`, or `app`/`path`/`qs`), checked. */
import { targetFromParams } from "../redirect-target.js";
import { HttpError } from "./http-error.js";
import type { ServerContext } from "./context.js";

export const TARGET_FIELDS = ["app", "path", "qs", "rd"] as const;

export interface Target {
  url: string;
  origin: string;
  /** The fields that carried it, to put back into the form. */
  hidden: Array<{ name: string; value: string }>;
}

/** The validated target of a request, null when none was given; a 400 page for anything not allowed. */
export async function resolveTarget(ctx: ServerContext, fields: Record<string, string | undefined>): Promise<Target | null> {
  const text = targetFromParams(fields);
  if (text === null) return null;
  const check = await ctx.checkTarget(text);
  if (!check.ok) {
    const registrable = check.origin !== null && check.reason === "the application is not registered";
    throw new HttpError(400, {
      heading: registrable ? "This application is not registered" : "This address cannot be used",
      message: registrable
        ? `This login server only sends you back to applications its administrator has registered, and ${check.origin} is not one of them. An administrator can register it with:`
        : `This login server cannot send you back to the address you came from: ${check.reason}.`,
      details: registrable ? `ssoctl app add ${check.origin}` : null,
    });
  }
  const hidden =
    fields.app !== undefined && fields.app !== ""
      ? (["app", "path", "qs"] as const).filter((n) => fields[n] !== undefined).map((n) => ({ name: n, value: fields[n]! }))
      : [{ name: "rd", value: fields.rd! }];
  return { url: check.url, origin: check.origin, hidden };
}

/** The target's fields as a record, to keep in a server-side record until the sign-in ends. */
export function targetFields(target: Target | null): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const field of target?.hidden ?? []) fields[field.name] = field.value;
  return fields;
}

/** The login page for the same target: "start again". */
export function loginHref(ctx: ServerContext, target: Target | null): string {
  const query = new URLSearchParams(targetFields(target)).toString();
  return ctx.url("/login") + (query === "" ? "" : `?${query}`);
}
