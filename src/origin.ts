import { printable } from "./printable.js";

/**
 * Reduces an application URL to its origin (scheme, host, port).
 * A path, query or fragment is dropped: apps are registered by origin.
 * Returns an explanation instead when the text is not an absolute http(s) URL.
 */
export function parseAppOrigin(text: string): { origin: string } | { problem: string } {
  if (/[\x00-\x20\x7f\\]/.test(text)) {
    return { problem: `"${printable(text)}" is not a URL (spaces, control characters and backslashes are not allowed)` };
  }
  if (!/^https?:\/\/[^/]/i.test(text)) {
    return { problem: `"${printable(text)}" is not an absolute http:// or https:// URL (for example https://app.example.com)` };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `"${printable(text)}" is not a valid URL` };
  }
  if (url.username !== "" || url.password !== "") {
    return { problem: `"${printable(text)}" contains a user name or password; give only scheme, host and port` };
  }
  if (url.hostname === "") return { problem: `"${printable(text)}" has no host` };
  // The URL parser lets through hosts no browser can reach (",", ";", "*"); they would also break the CSP header.
  if (!/^([A-Za-z0-9_-]+\.)*[A-Za-z0-9_-]+\.?$|^\[[0-9A-Fa-f:.]+\]$/.test(url.hostname)) {
    return { problem: `"${printable(text)}" does not have a valid host name` };
  }
  return { origin: url.origin };
}
