/**
 * Real programs for the end-to-end tests: find them, start them on free
 * 127.0.0.1 ports, wait until they answer, stop them. A missing program is a
 * failure with a clear message, never a skipped test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { request } from "undici";
import { showOnFailure } from "../../support/output.js";

/** The path of a required program; throws naming the package to install. */
export function requireProgram(name: string, file: string, debianPackage: string): string {
  const override = process.env[`SSOCTL_E2E_${name.toUpperCase()}`];
  const candidate = override ?? file;
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
  } catch {
    throw new Error(
      `${name} is required by the end-to-end tests but ${candidate} is not an executable file. ` +
        `Install it (apt-get install ${debianPackage}) or set SSOCTL_E2E_${name.toUpperCase()} to its path.`,
    );
  }
  return candidate;
}

/** A port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ssoctl-e2e-${prefix}-`));
}

export interface RunningProgram {
  url: string;
  process: ChildProcess;
  /** What the program wrote so far (stdout and stderr together). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Spawns a long-running program and waits until `url` answers any HTTP
 * request. Throws (with the program's output) when it exits or stays silent.
 */
export async function startProgram(options: {
  name: string;
  command: string;
  args: string[];
  url: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}): Promise<RunningProgram> {
  const child = spawn(options.command, options.args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  showOnFailure(`${options.name} (pid ${child.pid})`, () => output);
  let exited: string | null = null;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    });
    child.once("error", (error) => {
      exited = `could not start: ${error.message}`;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exit;
      clearTimeout(timer);
    }
  };

  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (exited !== null) {
      throw new Error(`${options.name} ${exited} before answering at ${options.url}:\n${output}`);
    }
    try {
      const response = await request(options.url, { headersTimeout: 1000, bodyTimeout: 1000 });
      await response.body.dump();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${options.name} did not answer at ${options.url} within ${options.timeoutMs ?? 15_000} ms:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { url: options.url, process: child, output: () => output, stop };
}
