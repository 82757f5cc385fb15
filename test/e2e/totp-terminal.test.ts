/**
 * `ssoctl user totp enroll` on a real terminal (util-linux `script` gives it a pseudo-terminal of
 * 80 columns): the QR code fits, and Ctrl-C at the code prompt (readline in raw mode, so a
 * keystroke rather than a signal) says "interrupted; nothing was changed" and exits 130.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN, expectOk, initDataDir, PASSWORD, query, ssoctl } from "../cli/helpers.js";
import { requireProgram } from "./support/processes.js";

const SCRIPT = requireProgram("script", "/usr/bin/script", "util-linux");

describe("ssoctl user totp enroll in an 80-column terminal", () => {
  it("prints a QR code that fits, and Ctrl-C at the prompt changes nothing (exit 130)", async () => {
    const dir = initDataDir();
    expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "-d", dir], { input: `${PASSWORD}\n` }));
    const command = `stty cols 80 rows 24; exec ${process.execPath} ${BIN} user totp enroll alice -d ${dir}`;
    const child = spawn(SCRIPT, ["-qec", command, "/dev/null"], { env: { ...process.env, SSOCTL_DATABASE_URL: "", SSOCTL_DEBUG: "", TERM: "xterm" } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await expect.poll(() => output, { timeout: 15_000, interval: 20 }).toContain("Code from the app: ");
    child.stdin.write("\u0003");
    expect(await exited).toBe(130);
    expect(output).toContain("ssoctl: interrupted; nothing was changed");
    const qrLines = output.split(/\r?\n/).filter((line) => line.includes("\u2580"));
    expect(qrLines.length).toBeGreaterThan(10);
    const widths = qrLines.map((line) => [...line.replace(/\u001b\[[0-9;]*m/g, "")].length);
    expect(Math.max(...widths)).toBeLessThanOrEqual(80);
    expect(query(dir, "SELECT * FROM totp")).toEqual([]);
  });
});
