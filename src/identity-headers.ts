/** The identity headers forward auth answers with and `ssoctl protect` sends upstream. */

export interface IdentityProfile {
  username: string;
  name: string;
  email: string;
  groups: readonly string[];
}

/** Header values are Latin-1 on the wire: UTF-8 text goes through as its bytes, control characters never. */
export function headerValue(text: string): string {
  return Buffer.from(text.replace(/[\x00-\x1f\x7f]/g, ""), "utf8").toString("latin1");
}

/** `Remote-User`, `Remote-Name`, `Remote-Email`, `Remote-Groups` (comma-separated). */
export function identityHeaders(profile: IdentityProfile): Record<string, string> {
  return {
    "Remote-User": headerValue(profile.username),
    "Remote-Name": headerValue(profile.name),
    "Remote-Email": headerValue(profile.email),
    "Remote-Groups": headerValue(profile.groups.join(",")),
  };
}
