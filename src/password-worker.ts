/** The login server's password worker process: argon2 on request over IPC, nothing else. */
import { hashPassword, verifyPassword } from "./passwords.js";
import type { WorkerReply, WorkerRequest } from "./password-hasher.js";

function reply(message: WorkerReply): void {
  if (process.connected) process.send!(message);
}

process.on("message", (request: WorkerRequest) => {
  const work = request.op === "hash" ? hashPassword(request.password) : verifyPassword(request.storedHash, request.password);
  work.then(
    (value) => reply({ id: request.id, ok: true, value }),
    (error: Error) => reply({ id: request.id, ok: false, error: error?.message ?? String(error) }),
  );
});

// The server went away: nothing is left to do.
process.on("disconnect", () => process.exit(0));
