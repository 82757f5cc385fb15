/** Running until asked to stop, and turning a failed listen into a clear message. */
import { isErrno } from "../data-dir.js";
import { SsoctlError } from "../errors.js";

/** Resolves when the process is asked to stop (SIGINT or SIGTERM). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** An error from binding the listening socket, as opposed to one of the program's own. */
export function isListenError(error: unknown): boolean {
  return ["EADDRINUSE", "EACCES", "EADDRNOTAVAIL", "ENOTFOUND"].some((code) => isErrno(error, code));
}

export function listenError(error: unknown, host: string, port: number): SsoctlError {
  if (isErrno(error, "EADDRINUSE")) return new SsoctlError(`${host}:${port} is already in use; choose another --port`);
  if (isErrno(error, "EACCES")) return new SsoctlError(`not allowed to listen on ${host}:${port}; choose a port above 1023`);
  if (isErrno(error, "EADDRNOTAVAIL") || isErrno(error, "ENOTFOUND")) return new SsoctlError(`${host} is not an address of this machine; check --host`);
  return error instanceof SsoctlError ? error : new SsoctlError(`cannot start: ${(error as Error).message}`, { cause: error });
}
