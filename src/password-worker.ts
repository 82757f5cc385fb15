/** The login server's password worker process: argon2 on request over IPC, nothing else. */
import { Worker } from "node:worker_threads";
import { hashPassword, verifyPassword, type ForeignCheck } from "./passwords.js";
import type { WorkerReply, WorkerRequest } from "./password-hasher.js";
import type { ForeignReply, ForeignRequest } from "./foreign-hash-thread.js";

function reply(message: WorkerReply): void {
  if (process.connected) process.send!(message);
}

let thread: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, { resolve: (ok: boolean) => void; reject: (error: Error) => void }>();

/** Foreign hashes on a thread started at the first imported user's sign-in (most servers never have one). */
const foreignOnThread: ForeignCheck = (storedHash, password) => {
  if (thread === null) {
    const started = new Worker(new URL("./foreign-hash-thread.js", import.meta.url));
    started.unref();
    started.on("message", (answer: ForeignReply) => {
      const call = waiting.get(answer.id);
      waiting.delete(answer.id);
      call?.resolve(answer.ok);
    });
    started.on("error", () => {});
    started.once("exit", (code) => {
      if (thread === started) thread = null;
      for (const [id, call] of waiting) {
        waiting.delete(id);
        call.reject(new Error(`the foreign-hash thread stopped (exit code ${code})`));
      }
    });
    thread = started;
  }
  const id = nextId++;
  const running = thread;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    running.postMessage({ id, storedHash, password } satisfies ForeignRequest);
  });
};

process.on("message", (request: WorkerRequest) => {
  const work = request.op === "hash" ? hashPassword(request.password) : verifyPassword(request.storedHash, request.password, { foreign: foreignOnThread });
  work.then(
    (value) => reply({ id: request.id, ok: true, value }),
    (error: Error) => reply({ id: request.id, ok: false, error: error?.message ?? String(error) }),
  );
});

// The server went away: nothing is left to do.
process.on("disconnect", () => process.exit(0));
