/** An error meant for the person at the terminal: one line, and an exit code. */
export class SsoctlError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "SsoctlError";
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A mistake in how a command was called (exit code 2). */
export class UsageError extends SsoctlError {
  constructor(message: string) {
    super(message, { exitCode: 2 });
    this.name = "UsageError";
  }
}
