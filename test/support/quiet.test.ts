/** The test runner's own output: quiet when a test passes, the server's lines when it fails. */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VITEST = path.join(ROOT, "node_modules", "vitest", "vitest.mjs");

/** vitest on the fixture, as `npm test` runs it; stdout and stderr together. */
function runFixture(options: { failing: boolean }): { code: number | null; output: string } {
  const result = spawnSync(process.execPath, [VITEST, "run", "--config", "test/support/fixtures/quiet.config.ts"], {
    cwd: ROOT,
    env: { ...process.env, QUIET_CHECK_FAIL: options.failing ? "1" : "", NO_COLOR: "1", FORCE_COLOR: "" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status, output: result.stdout + result.stderr };
}

describe("test output", () => {
  it("leaves the server's lines out of a passing run", () => {
    const run = runFixture({ failing: false });
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/1 passed/);
    expect(run.output).not.toMatch(/forward_auth\.refused/);
  });

  it("prints the server's lines for the test that failed", () => {
    const run = runFixture({ failing: true });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/=== output while "[^"]*asks forward auth without the proxy's headers" failed ===/);
    expect(run.output).toMatch(/"event":"forward_auth\.refused".*"reason":"missing or malformed X-Original-URL/);
  });
});
