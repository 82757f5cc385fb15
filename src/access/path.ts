/**
 * The path a request's access is judged by, and whether a rule's path covers it.
 * Pure; no I/O. The same text every guard passes to `decideAccess`.
 */

/**
 * A request path as access rules see it: percent-decoded once (bytes, then UTF-8, an
 * invalid sequence becoming U+FFFD, never an error), backslashes as slashes, runs of
 * slashes as one, `.` and `..` segments resolved (never above the root), the query and
 * fragment dropped. Upstreams differ in which of these they do; doing all of them
 * means `/%61dmin`, `/x/../admin`, `//admin` and `/admin\x` are all under `/admin`.
 */
export function accessPath(pathAndQuery: string): string {
  let path = pathAndQuery;
  const end = path.search(/[?#]/);
  if (end !== -1) path = path.slice(0, end);
  if (path.includes("%")) path = percentDecode(path);
  if (path.includes("\\")) path = path.replace(/\\/g, "/");
  const segments = path.split("/");
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === "..") {
      out.pop();
      if (last) out.push("");
      continue;
    }
    if (segment === ".") {
      if (last) out.push("");
      continue;
    }
    // Empty segments (`//`) collapse; only a trailing one (a directory) is kept.
    if (segment === "" && !(last && out.length > 0)) continue;
    out.push(segment);
  }
  return `/${out.join("/")}`;
}

/**
 * The path as a servlet container (Tomcat, Jetty) routes it: each segment's `;parameter`
 * removed (`/admin;jsessionid=1/users` is `/admin/users`, `/public/..;/admin` is
 * `/public/../admin`), `%3B` counting as `;` too. Null when the path has no parameter.
 */
export function withoutPathParameters(path: string): string | null {
  if (!path.includes(";") && !/%3b/i.test(path)) return null;
  const end = path.search(/[?#]/);
  const bare = end === -1 ? path : path.slice(0, end);
  return bare.replace(/(?:;|%3b)[^/\\]*/gi, "");
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** `%XX` to bytes, the rest as UTF-8; a `%` not followed by two hex digits stays as it is. */
function percentDecode(text: string): string {
  const bytes: number[] = [];
  const utf8 = Buffer.from(text, "utf8");
  for (let i = 0; i < utf8.length; i++) {
    const byte = utf8[i]!;
    if (byte === 0x25 && i + 2 < utf8.length && isHex(utf8[i + 1]!) && isHex(utf8[i + 2]!)) {
      bytes.push(parseInt(String.fromCharCode(utf8[i + 1]!, utf8[i + 2]!), 16));
      i += 2;
    } else {
      bytes.push(byte);
    }
  }
  return decoder.decode(Uint8Array.from(bytes));
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

/**
 * A rule's path as stored: it must start with `/`; it is normalised like a request path,
 * without a trailing slash (`/admin/` is `/admin`). Null when it is not a path.
 */
export function normalizeRulePath(text: string): string | null {
  if (!text.startsWith("/") || text.length > 1024 || /[\x00-\x1f\x7f?#]/.test(text)) return null;
  const path = accessPath(text);
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** `/admin` covers `/admin` and `/admin/x`, not `/administrator`; `/` covers everything. */
export function pathCovers(rulePath: string, path: string): boolean {
  if (rulePath === "/") return true;
  return path === rulePath || (path.startsWith(rulePath) && path.charCodeAt(rulePath.length) === 0x2f /* "/" */);
}
