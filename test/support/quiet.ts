/**
 * Vitest setup file (both configs): keeps what the code under test prints out of a passing run and
 * prints it for a failing test or a failing hook. See ./output.ts.
 */
import { afterAll, beforeEach } from "vitest";
import type { RunnerTask } from "vitest";
import { captureProcessOutput, mark, outputSince, printToTerminal, type Mark } from "./output.js";

captureProcessOutput();
let phase: Mark = mark();

beforeEach((context) => {
  const start = mark();
  phase = start;
  context.onTestFinished(() => {
    phase = mark();
  });
  context.onTestFailed(() => {
    const output = outputSince(start);
    if (output !== "") printToTerminal(`\n=== output while "${context.task.fullName}" failed ===\n${output}\n=== end of output ===\n`);
  });
});

/** A beforeAll/afterAll that threw records its error on its suite; a failed test alone does not. */
function hookFailed(task: RunnerTask): boolean {
  if (task.type !== "suite") return false;
  return (task.result?.errors?.length ?? 0) > 0 || task.tasks.some(hookFailed);
}

afterAll(({}, suite) => {
  if (!hookFailed(suite as RunnerTask)) return;
  const output = outputSince(phase);
  if (output !== "") printToTerminal(`\n=== output of ${suite.name}, where a hook failed ===\n${output}\n=== end of output ===\n`);
});
