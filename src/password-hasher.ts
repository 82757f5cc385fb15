/**
 * Where argon2 runs. The login server hashes in a child process at the lowest
 * CPU priority, so a flood of sign-ins (argon2 keeps every core busy) cannot
 * slow forward auth and the pages, which run in the server process. The CLI
 * hashes in-process.
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

export class ChildProcessHasher implements PasswordHasher {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: string | boolean) => void; reject: (error: Error) => void }>();
  private closed = false;

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

  /** Starts the worker now rather than at the first sign-in. */
  start(): void {
    this.worker();
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.disconnect();
      setTimeout(() => child.kill("SIGKILL"), 2000).unref();
    });
  }

  private call(request: { op: "hash"; password: string } | { op: "verify"; storedHash: string; password: string }): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error("the password hasher is closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker().send({ id, ...request } satisfies WorkerRequest, (error) => {
        if (error !== null) this.settle({ id, ok: false, error: `cannot reach the password worker: ${error.message}` });
      });
    });
  }

  /** The running worker; a new one when the last has died (its calls failed with it). */
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
  }
}
