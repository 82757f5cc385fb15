/** A data directory made with the real CLI, and a real sign-in over HTTP. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CLI, runCommand } from "./proc.mjs";

export const APP_ORIGIN = "http://app.bench.test";
export const USER = { username: "alice", password: "correct horse battery staple" };

export async function makeDataDir(label) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `ssoctl-bench-${label}-`));
  const dataDir = path.join(root, "data");
  await runCommand([CLI, "init", "--data-dir", dataDir]);
  return { root, dataDir, dbPath: path.join(dataDir, "ssoctl.db"), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/** alice, the app origin, and the key as `ssoctl key show` prints it. */
export async function populate(data) {
  await runCommand([CLI, "user", "add", USER.username, "--name", "Alice Bench", "--email", "alice@example.com", "--groups", "staff,ops", "--password-stdin", "--data-dir", data.dataDir], { input: `${USER.password}\n` });
  await runCommand([CLI, "app", "add", APP_ORIGIN, "--data-dir", data.dataDir]);
  const { stdout } = await runCommand([CLI, "key", "show", "--data-dir", data.dataDir]);
  return { secretKey: stdout.trim().split("\n").pop().trim() };
}

function cookiesOf(response) {
  const jar = {};
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const eq = pair.indexOf("=");
    jar[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return jar;
}

/** What a browser posts to sign in: the CSRF cookie and the form (the CSRF token is stateless, so reusable). */
export async function signInForm(serverUrl) {
  const page = await fetch(`${serverUrl}/login?rd=${encodeURIComponent(`${APP_ORIGIN}/`)}`);
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (csrf === undefined) throw new Error(`no CSRF token on the login page (${page.status})`);
  const cookie = Object.entries(cookiesOf(page)).map(([k, v]) => `${k}=${v}`).join("; ");
  const body = new URLSearchParams({ rd: `${APP_ORIGIN}/`, csrf, username: USER.username, password: USER.password }).toString();
  return { headers: { "content-type": "application/x-www-form-urlencoded", cookie, origin: serverUrl }, body };
}

/** Signs in and returns the login cookie value. */
export async function signIn(serverUrl) {
  const form = await signInForm(serverUrl);
  const response = await fetch(`${serverUrl}/login`, { method: "POST", headers: form.headers, body: form.body, redirect: "manual" });
  await response.text();
  const token = cookiesOf(response).ssoctl;
  if (response.status !== 303 || token === undefined) throw new Error(`sign-in failed: ${response.status}`);
  return token;
}

/**
 * Successful sign-ins per second from `clients` loops posting the form back to back
 * for `seconds` (then each finishes the one in flight); anything but a 303 throws.
 */
export async function signInLoop(serverUrl, form, clients, seconds) {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let ok = 0;
  async function client() {
    while (performance.now() < deadline) {
      const response = await fetch(`${serverUrl}/login`, { method: "POST", headers: form.headers, body: form.body, redirect: "manual", signal: AbortSignal.timeout(30_000) });
      await response.arrayBuffer();
      if (response.status !== 303) throw new Error(`a sign-in answered ${response.status}`);
      ok += 1;
    }
  }
  await Promise.all(Array.from({ length: clients }, client));
  return ok / ((performance.now() - started) / 1000);
}
