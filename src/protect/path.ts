/**
 * The request path as the guard judges it and the upstream receives it: dot
 * segments resolved (RFC 3986 §5.2.4) before the upstream's prefix is added, so
 * `/../admin` can never become `/base/../admin`. Pure; no I/O.
 */

/**
 * `target` (an origin-form `/path?query`) with `.` and `..` segments resolved,
 * `%2e` counting as a dot because many servers decode before they resolve.
 * Null, to be answered with 400, for a path that climbs above the root or that
 * hides a dot segment behind `\`, `%2f`, `%5c` or a `;parameter`, which some
 * servers treat as a slash or drop. The query is left as it is.
 */
export function normalizedTarget(target: string): string | null {
  const q = target.indexOf("?");
  const path = q === -1 ? target : target.slice(0, q);
  // Nearly every path has no dot segment: skip the work for them.
  if (!path.includes(".") && !/%2e/i.test(path)) return target;
  const segments = path.split("/");
  const last = segments.length - 1;
  const out: string[] = [];
  for (let i = 1; i <= last; i++) {
    const segment = segments[i]!;
    const dots = dotSegment(segment);
    if (dots === 2) {
      if (out.length === 0) return null;
      out.pop();
    }
    if (dots !== 0) {
      // "/a/b/.." is "/a/": a trailing dot segment leaves a directory.
      if (i === last) out.push("");
      continue;
    }
    if (hidesDotSegment(segment)) return null;
    out.push(segment);
  }
  return `/${out.join("/")}${q === -1 ? "" : target.slice(q)}`;
}

/** 1 for `.`, 2 for `..` (either possibly as `%2e`), 0 for anything else. */
function dotSegment(segment: string): 0 | 1 | 2 {
  if (segment.length > 6) return 0;
  const decoded = segment.replace(/%2e/gi, ".");
  return decoded === "." ? 1 : decoded === ".." ? 2 : 0;
}

function hidesDotSegment(segment: string): boolean {
  const decoded = segment.replace(/%2e/gi, ".").replace(/%2f|%5c|\\/gi, "/");
  return decoded.split("/").some((part) => {
    const name = part.split(";", 1)[0]!;
    return name === "." || name === "..";
  });
}
