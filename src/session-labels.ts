/**
 * What the account page shows a person about a session: the browser and system from the
 * User-Agent ("Chrome on Linux"), and how they signed in ("password + code") rather than amr
 * codes. Pure; no I/O. Unknown strings fall back to a plain description, never the raw header.
 */

/** Browsers in the order they must be tested: Edge and Opera also say "Chrome", Chrome also says "Safari". */
const BROWSERS: ReadonlyArray<[RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, "Edge"],
  [/\b(?:OPR|Opera)\//, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\bVivaldi\//, "Vivaldi"],
  [/\b(?:Firefox|FxiOS)\//, "Firefox"],
  [/\b(?:Chrome|CriOS|Chromium)\//, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
  [/\bcurl\//, "curl"],
  [/\bWget\//, "Wget"],
];

const SYSTEMS: ReadonlyArray<[RegExp, string]> = [
  [/\b(?:iPhone|iPad|iPod)\b/, "iOS"],
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b|\bX11\b/, "Linux"],
];

/** "Chrome on Linux", "Safari on iOS", "Firefox", "a browser on Windows", or "Unknown browser". */
export function browserName(userAgent: string): string {
  const agent = userAgent.slice(0, 512);
  const browser = BROWSERS.find(([pattern]) => pattern.test(agent))?.[1] ?? null;
  const system = SYSTEMS.find(([pattern]) => pattern.test(agent))?.[1] ?? null;
  if (browser !== null && system !== null) return `${browser} on ${system}`;
  if (browser !== null) return browser;
  if (system !== null) return `A browser on ${system}`;
  return "Unknown browser";
}

/** How a session was signed in, from its amr (RFC 8176): "passkey", "password + code" or "password". */
export function signInMethodLabel(amr: readonly string[]): string {
  if (amr.includes("hwk")) return "passkey";
  if (amr.includes("pwd") && amr.includes("otp")) return "password + code";
  if (amr.includes("otp")) return "code";
  return "password";
}
