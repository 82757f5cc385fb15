/** Runs the built `ssoctl` binary the way a user does: a child process, stdin piped, never a TTY. */
import Database from "better-sqlite3";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = path.join(ROOT, "bin", "ssoctl");
export const PASSWORD = "correct horse battery";

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run without root's power to read and write any file whatever its mode (see withoutFileOverride). */
  withoutFileOverride?: boolean;
}

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SSOCTL_DATA_DIR;
  delete env.SSOCTL_DATABASE_URL;
  delete env.SSOCTL_DEBUG;
  // A config file or a service manager's variables around the test run would change every default.
  delete env.SSOCTL_CONFIG;
  delete env.INVOCATION_ID;
  delete env.JOURNAL_STREAM;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Other engineers rebuild dist/ in the same tree; a half-written module fails to link for a moment. */
const HALF_BUILT = /SyntaxError: The requested module '[^']+' does not provide an export named/;

export function ssoctl(args: string[], options: RunOptions = {}): Result {
  for (let attempt = 1; ; attempt++) {
    const result = runOnce(args, options);
    if (attempt >= 3 || !HALF_BUILT.test(result.stderr)) return result;
    spawnSync("sleep", ["2"]);
  }
}

/**
 * Root reads and writes every file whatever its mode (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a
 * `chmod 000` stops nobody in a test run as root. Dropping those two capabilities makes root obey file
 * modes while it stays the owner of the checkout; running as another user instead would fail wherever
 * that user cannot enter the checkout (a clone in a private `mktemp -d`).
 */
const WITHOUT_FILE_OVERRIDE = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"];

function runOnce(args: string[], options: RunOptions): Result {
  const dropCapabilities = options.withoutFileOverride === true && process.getuid?.() === 0;
  const [command, commandArgs] = dropCapabilities
    ? ["setpriv", [...WITHOUT_FILE_OVERRIDE, process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  const result = spawnSync(command, commandArgs, {
    input: options.input ?? "",
    env: childEnv(options.env),
    cwd: options.cwd ?? ROOT,
    encoding: "utf8",
    timeout: 20_000,
  });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts the binary with stdin left open (a user who typed nothing), resolving when it exits or after `timeoutMs`. */
export function ssoctlWithOpenStdin(args: string[], timeoutMs: number): Promise<Result & { timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv(), cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ code: null, stdout, stderr, timedOut: true });
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, stdout, stderr, timedOut: false });
    });
  });
}

/** An operational or usage error: the exit code, nothing on stdout, one `ssoctl: ` line on stderr, no stack trace. */
export function expectError(result: Result, code: number, message: RegExp): void {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code, stderr: expect.stringMatching(message) });
  expect(result.stdout).toBe("");
  expectOneErrorLine(result.stderr);
}

export function expectOneErrorLine(stderr: string): void {
  expect(stderr).toMatch(/^ssoctl: [^\n]+\n$/);
  expect(stderr).not.toMatch(/\n\s+at |Error:|node:internal|\.js:\d+/);
}

export function expectOk(result: Result): void {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-cli-"));
}

/** A fresh initialised data directory (no users). */
export function initDataDir(): string {
  const dir = path.join(tempDir(), "data");
  expectOk(ssoctl(["init", "--data-dir", dir]));
  return dir;
}

/** A private copy of a prepared data directory, so each test can change it freely. */
export function copyDataDir(template: string): string {
  const dir = path.join(tempDir(), "data");
  fs.cpSync(template, dir, { recursive: true });
  return dir;
}

export function openDb(dir: string): Database.Database {
  return new Database(path.join(dir, "ssoctl.db"));
}

export function query<T>(dir: string, sql: string, ...params: unknown[]): T[] {
  const db = openDb(dir);
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function addSession(dir: string, id: string, username: string, options: { expiresAt?: number; anonymous?: boolean } = {}): void {
  const db = openDb(dir);
  const now = Math.floor(Date.now() / 1000);
  db.prepare(
    `INSERT INTO sessions (id, user_id, username, anonymous, created_at, expires_at, client_addr, user_agent)
     VALUES (?, (SELECT id FROM users WHERE username = ?), ?, ?, ?, ?, '192.0.2.7', 'test')`,
  ).run(id, username, username, options.anonymous ? 1 : 0, now, options.expiresAt ?? now + 3600);
  db.close();
}

/** Everything a command could have changed, to assert "nothing changed on disk". */
export function snapshot(dir: string): Record<string, unknown> {
  const db = openDb(dir);
  try {
    const tables = ["users", "apps", "access_rules", "sessions", "throttle", "retired_keys", "audit"];
    const state: Record<string, unknown> = { key: fs.readFileSync(path.join(dir, "secret.key"), "utf8") };
    for (const table of tables) state[table] = db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all();
    return state;
  } finally {
    db.close();
  }
}

export function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}
