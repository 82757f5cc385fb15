/**
 * Where argon2 runs. The login server hashes in a child process at the lowest
 * CPU priority, so a flood of sign-ins (argon2 keeps every core busy) cannot
 * slow forward auth and the pages, which run in the server process. The CLI
 * hashes in-process.
 *
 * The worker starts when the login form is shown (or at the first password check)
 * and stops after a while without a check: an idle server does not hold a second
 * Node process (about 45 MiB).
 */
import { fork, type ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { hashPassword, verifyPassword } from "./passwords.js";

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True only for a matching password. Rejects only when the hasher itself failed. */
  verify(storedHash: string, password: string): Promise<boolean>;
  close(): Promise<void>;
}

export const inProcessHasher: PasswordHasher = {
  hash: hashPassword,
  verify: verifyPassword,
  close: async () => {},
};

export type WorkerRequest = { id: number; op: "hash"; password: string } | { id: number; op: "verify"; storedHash: string; password: string };
export type WorkerReply = { id: number; ok: true; value: string | boolean } | { id: number; ok: false; error: string };

const HERE = fileURLToPath(import.meta.url);
// Built, the worker sits beside this file; run from the TypeScript source (the tests), it is the built one.
const WORKER = HERE.endsWith(".ts")
  ? path.join(path.dirname(HERE), "..", "dist", "password-worker.js")
  : path.join(path.dirname(HERE), "password-worker.js");
/** Nice 19: the scheduler gives the server process the CPU whenever it wants it. */
const LOWEST_PRIORITY = 19;

/** How long the worker stays without a password check before it stops. */
export const WORKER_IDLE_MS = 5 * 60 * 1000;

type PendingCall = { child: ChildProcess; resolve: (value: string | boolean) => void; reject: (error: Error) => void };

export class ChildProcessHasher implements PasswordHasher {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;

  constructor(options: { idleMs?: number } = {}) {
    this.idleMs = options.idleMs ?? WORKER_IDLE_MS;
  }

  hash(password: string): Promise<string> {
    return this.call({ op: "hash", password }) as Promise<string>;
  }

  verify(storedHash: string, password: string): Promise<boolean> {
    return this.call({ op: "verify", storedHash, password }) as Promise<boolean>;
  }

  /** The worker's process id, while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the worker now (when it is not running) rather than at the first password check. */
  start(): void {
    if (this.closed) return;
    this.worker();
    this.idleAfterwards();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelIdle();
    const child = this.child;
    this.child = null;
    if (child !== null) await stopWorker(child);
  }

  private call(request: { op: "hash"; password: string } | { op: "verify"; storedHash: string; password: string }): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error("the password hasher is closed"));
    this.cancelIdle();
    const id = this.nextId++;
    const child = this.worker();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { child, resolve, reject });
      child.send({ id, ...request } satisfies WorkerRequest, (error) => {
        if (error !== null) this.settle({ id, ok: false, error: `cannot reach the password worker: ${error.message}` });
      });
    });
  }

  /** The running worker; a new one when the last has died (its calls failed with it) or stopped idle. */
  private worker(): ChildProcess {
    if (this.child !== null) return this.child;
    const child = fork(WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [], serialization: "json" });
    try {
      if (child.pid !== undefined) setPriority(child.pid, LOWEST_PRIORITY);
    } catch {
      // Lowering a priority is allowed everywhere we know of; if not, hashing still works.
    }
    child.on("message", (reply: WorkerReply) => this.settle(reply));
    child.on("error", () => {});
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = null;
      const reason = new Error(`the password worker stopped (${signal ?? `exit code ${code}`})`);
      for (const [id, call] of this.pending) {
        if (call.child !== child) continue;
        this.pending.delete(id);
        call.reject(reason);
      }
    });
    this.child = child;
    return child;
  }

  private settle(reply: WorkerReply): void {
    const call = this.pending.get(reply.id);
    if (call === undefined) return;
    this.pending.delete(reply.id);
    if (reply.ok) call.resolve(reply.value);
    else call.reject(new Error(reply.error));
    this.idleAfterwards();
  }

  /** Once no check is under way, the worker stops after `idleMs` unless another check comes. */
  private idleAfterwards(): void {
    if (this.pending.size > 0 || this.child === null || this.closed) return;
    this.cancelIdle();
    const child = this.child;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.child !== child || this.pending.size > 0) return;
      this.child = null;
      void stopWorker(child);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private cancelIdle(): void {
    if (this.idleTimer === null) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

/** Lets a worker finish and exit (it exits when its channel closes); SIGKILL when it does not within 2 s. */
async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    if (child.connected) child.disconnect();
    setTimeout(() => child.kill("SIGKILL"), 2000).unref();
  });
}
