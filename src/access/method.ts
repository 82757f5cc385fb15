/**
 * HTTP request methods: which ones a rule may name, and the method-override headers some
 * frameworks read (Rails, Laravel, Express's method-override, Symfony, ASP.NET), through which a
 * `POST` is handled as another method.
 */

/** RFC 9110's methods, PATCH (RFC 5789), WebDAV's (RFC 4918, 3253, 4791, 5323) and QUERY. */
export const KNOWN_METHODS: readonly string[] = [
  "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
  "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "MKCALENDAR", "SEARCH", "QUERY",
];

export function isKnownMethod(method: string): boolean {
  return KNOWN_METHODS.includes(method);
}

/** The request headers that ask an app to treat the request as another method. */
export const METHOD_OVERRIDE_HEADERS: readonly string[] = ["x-http-method-override", "x-http-method", "x-method-override"];

/**
 * Every method an app may handle a request as: its own, plus each override header's value
 * (upper-cased, as the frameworks compare them). Unreadable values count as given: a
 * framework may still read them.
 */
export function methodsOfRequest(method: string, headers: Record<string, string | string[] | undefined>): string[] {
  const methods = new Set([method.toUpperCase()]);
  for (const name of METHOD_OVERRIDE_HEADERS) {
    const value = headers[name];
    for (const text of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      for (const part of text.split(",")) {
        const override = part.trim().toUpperCase();
        if (override !== "") methods.add(override);
      }
    }
  }
  return [...methods];
}
