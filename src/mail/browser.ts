/** A browser's User-Agent header as a person reads it in a notice: "Firefox on Linux". Pure. */

const BROWSERS: Array<[RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\/\d/, "Edge"],
  [/\bOPR\/\d/, "Opera"],
  [/\bFirefox\/\d|\bFxiOS\/\d/, "Firefox"],
  [/\bHeadlessChrome\/\d/, "Headless Chrome"],
  [/\bChromium\/\d/, "Chromium"],
  [/\bChrome\/\d|\bCriOS\/\d/, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\/\d/, "Safari"],
  [/^curl\/\d/, "curl"],
];

const SYSTEMS: Array<[RegExp, string]> = [
  [/\bAndroid\b/, "Android"],
  [/\biPhone\b|\biPad\b|\biPod\b/, "iOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bLinux\b|\bX11\b/, "Linux"],
];

export function describeBrowser(userAgent: string | undefined): string {
  const ua = (userAgent ?? "").slice(0, 512);
  if (ua.trim() === "") return "an unnamed browser";
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (browser !== undefined) return system !== undefined ? `${browser} on ${system}` : browser;
  // Unknown: its first words, printable and short.
  return ua.replace(/[^\x20-\x7e]/g, "?").slice(0, 60);
}
