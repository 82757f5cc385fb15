/**
 * THE SEAM where CAS asks the access decision (issue 11) about a service.
 * Until src/access/ lands: the service's app is registered (checked by the caller), so a signed-in
 * user is allowed and anyone else must sign in. When it lands, this asks the one decision function
 * with (user, factors done, app, GET, the service's path) and returns its verdict unchanged.
 */
import type { ActiveLogin } from "../../sessions.js";
import type { App } from "../../store/store.js";

/** The verdicts of the access decision (DESIGN §11). */
export type ServiceVerdict = "allow" | "login" | "second_factor" | "forbidden" | "deny";

export function casServiceVerdict(login: ActiveLogin | null, _app: App, _serviceUrl: URL): ServiceVerdict {
  return login === null ? "login" : "allow";
}
