/** `user totp enroll` as seen in a terminal: a QR code that fits 80 columns, and Ctrl-C that changes nothing. */
import { spawn } from "node:child_process";
import { encode } from "uqr";
import { describe, expect, it } from "vitest";
import { otpauthUri } from "../../src/factors/totp.js";
import { qrHalfBlocks } from "../../src/factors/qr-text.js";
import { BIN, expectOk, initDataDir, PASSWORD, query, ssoctl } from "./helpers.js";

const LONGEST = otpauthUri({ issuer: "A rather long issuer name for this team", account: "a.very.long.user-name.of-64-characters.is.what.ssoctl.allows.xyz", secret: "A".repeat(32) });

/** The modules a reader sees: each cell's top and bottom half, dark or not, from the ANSI colours. */
function modulesOf(text: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of text.split("\n")) {
    const cells = [...line.matchAll(/\u001b\[(\d+);(\d+)m\u2580/g)];
    rows.push(cells.map((c) => c[1] === "30"), cells.map((c) => c[2] === "40"));
  }
  return rows;
}

describe("the QR code in a terminal", () => {
  it("fits 80 columns for the longest otpauth URI, and shows every module of the code", () => {
    for (const colour of [true, false]) {
      const text = qrHalfBlocks(LONGEST, { colour });
      const widths = text.split("\n").map((line) => [...line.replace(/\u001b\[[0-9;]*m/g, "")].length);
      expect(Math.max(...widths)).toBeLessThanOrEqual(80);
    }
    const expected = encode(LONGEST, { border: 2 }).data;
    const shown = modulesOf(qrHalfBlocks(LONGEST, { colour: true }));
    // An odd number of rows leaves a light half row at the bottom.
    expect(shown.slice(0, expected.length)).toEqual(expected.map((row) => row.map((m) => m === true)));
  });
});

describe("ssoctl user totp enroll, interrupted", () => {
  it("says \"interrupted; nothing was changed\" and exits 130 on Ctrl-C while it waits for the code", async () => {
    const dir = initDataDir();
    expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "-d", dir], { input: `${PASSWORD}\n` }));
    const child = spawn(process.execPath, [BIN, "user", "totp", "enroll", "alice", "-d", dir], { env: { ...process.env, SSOCTL_DATABASE_URL: "", SSOCTL_DEBUG: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await expect.poll(() => stderr, { timeout: 15_000, interval: 20 }).toContain("Reading the code from the app on standard input");
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/\nssoctl: interrupted; nothing was changed\n$/);
    expect(stdout).toContain("otpauth://totp/");
    expect(query(dir, "SELECT * FROM totp")).toEqual([]);
  });
});
