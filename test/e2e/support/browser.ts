/** Real Chromium through playwright-core; missing Chromium is a failure, not a skip. */
import { chromium, type Browser } from "playwright-core";
import { requireProgram } from "./processes.js";

export const CHROMIUM = "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  const executablePath = requireProgram("chromium", CHROMIUM, "chromium");
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
