/**
 * The password worker's thread for imported foreign hashes: their checks are synchronous
 * JavaScript (bcryptjs, unixcrypt) that can take a second, and here they hold up only each
 * other, never the worker's event loop that hands argon2 results back for native sign-ins.
 */
import { parentPort } from "node:worker_threads";
import { verifyForeignHash } from "./foreign-hashes.js";

export type ForeignRequest = { id: number; storedHash: string; password: string };
export type ForeignReply = { id: number; ok: boolean };

parentPort!.on("message", (request: ForeignRequest) => {
  parentPort!.postMessage({ id: request.id, ok: verifyForeignHash(request.storedHash, request.password) } satisfies ForeignReply);
});
