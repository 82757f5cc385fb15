/**
 * A passing run prints the runner's summary and nothing else; a failing test prints what the code
 * under test wrote while it ran. Two kinds of output are kept:
 *
 * - what this test process itself writes to stdout/stderr: the in-process servers' audit lines
 *   (stdout is the product's audit contract, so the product keeps writing there) and their error
 *   and refusal lines on stderr;
 * - what the programs a test spawns write (`ssoctl serve`, nginx, Caddy), registered by the helper
 *   that spawns them with `showOnFailure`.
 *
 * `test/support/quiet.ts` (a vitest setup file) installs the capture and prints on failure.
 */

/** A spawned program's output so far, as its helper collects it. */
interface Source {
  name: string;
  text(): string;
}

const sources = new Set<Source>();

/**
 * Shows what `name` printed during a test when that test fails. A program stays registered after
 * it stops (a test that stopped it may still fail); one that printed nothing new is left out.
 */
export function showOnFailure(name: string, text: () => string): void {
  sources.add({ name, text });
}

type Write = typeof process.stdout.write;

/** The writes this process made since the current test (or, between tests, the current hook phase) began. */
let written: string[] = [];
const realStderrWrite: Write = process.stderr.write.bind(process.stderr);

/** Routes process.stdout/stderr writes into `written` instead of the terminal. */
export function captureProcessOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.write = function capture(chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean {
      written.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
      if (typeof done === "function") queueMicrotask(() => (done as (error?: Error | null) => void)(null));
      return true;
    } as Write;
  }
}

/** A phase's own buffer of this process's writes, and where each program's output stood when it began. */
export interface Mark {
  written: string[];
  offsets: Map<Source, number>;
}

/** Begins a phase (a test, or the hooks between tests): later writes go to its buffer. */
export function mark(): Mark {
  written = [];
  return { written, offsets: new Map([...sources].map((source) => [source, source.text().length])) };
}

/** Everything written since `since` began: this process's writes, then each program's new output. */
export function outputSince(since: Mark): string {
  const parts: string[] = [];
  if (since.written.length > 0) parts.push(`--- written by the test process ---\n${since.written.join("")}`);
  for (const source of sources) {
    const text = source.text().slice(since.offsets.get(source) ?? 0);
    if (text !== "") parts.push(`--- ${source.name} ---\n${text}`);
  }
  return parts.join("\n");
}

/** Prints past the capture, to the terminal the runner reports to. */
export function printToTerminal(text: string): void {
  realStderrWrite(text.endsWith("\n") ? text : `${text}\n`);
}
