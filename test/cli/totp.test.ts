/** `ssoctl user totp enroll|reset`, run as a user does: the binary, the code written once the secret is shown. */
import { spawn } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { base32Decode, hotp, totpStep } from "../../src/factors/totp.js";
import { BIN, copyDataDir, expectError, expectOk, initDataDir, PASSWORD, query, ssoctl } from "./helpers.js";

let template: string;

beforeAll(() => {
  template = initDataDir();
  expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "-d", template], { input: `${PASSWORD}\n` }));
});

/** Runs enroll; once the secret is printed, `answer(secret)` is written to its standard input. */
function enroll(dir: string, answer: (secret: string) => string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "user", "totp", "enroll", "alice", "-d", dir], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let answered = false;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const secret = /Secret: ([A-Z2-7 ]+)\n/.exec(stdout)?.[1];
      if (secret !== undefined && !answered) {
        answered = true;
        child.stdin.end(answer(secret.replace(/ /g, "")));
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function currentCode(secret: string): string {
  return hotp(base32Decode(secret)!, totpStep(Math.floor(Date.now() / 1000)));
}

describe("ssoctl user totp", () => {
  it("enroll prints the otpauth URI, a QR code and the secret, takes the current code and prints 10 recovery codes", async () => {
    const dir = copyDataDir(template);
    const result = await enroll(dir, (secret) => `${currentCode(secret)}\n`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/otpauth:\/\/totp\/ssoctl:alice\?secret=[A-Z2-7]{32}&issuer=ssoctl/);
    // The QR code: block characters, several lines.
    expect(result.stdout.split("\n").filter((line) => /[█▀▄]/.test(line)).length).toBeGreaterThan(10);
    const codes = result.stdout.match(/^ {2}[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/gm) ?? [];
    expect(codes).toHaveLength(10);
    const rows = query<{ secret: string; last_step: number }>(dir, "SELECT secret, last_step FROM totp");
    expect(rows).toHaveLength(1);
    // The confirming code cannot be used again.
    expect(rows[0]!.last_step).toBeGreaterThan(0);
    const stored = query<{ code_hash: string }>(dir, "SELECT code_hash FROM recovery_codes");
    expect(stored).toHaveLength(10);
    for (const code of codes) expect(stored.map((r) => r.code_hash).join()).not.toContain(code.trim());
    const audit = query<{ event: string }>(dir, "SELECT event FROM audit WHERE event = 'user.totp_enrolled'");
    expect(audit).toHaveLength(1);

    const again = ssoctl(["user", "totp", "enroll", "alice", "-d", dir]);
    expectError(again, 1, /already has an authenticator app/);
  });

  it("a wrong code, or none, enrols nothing", async () => {
    const dir = copyDataDir(template);
    const wrong = await enroll(dir, (secret) => `${currentCode(secret) === "000000" ? "111111" : "000000"}\n`);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/That code does not match.*nothing was enrolled/);
    const malformed = await enroll(dir, () => "12 34\n");
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/6-digit code.*nothing was enrolled/);
    const none = await enroll(dir, () => "");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no code on standard input/);
    expect(query(dir, "SELECT * FROM totp")).toEqual([]);
  });

  it("reset removes the app and the recovery codes; an unknown user is an error", async () => {
    const dir = copyDataDir(template);
    expect((await enroll(dir, (secret) => `${currentCode(secret)}\n`)).code).toBe(0);
    const reset = ssoctl(["user", "totp", "reset", "ALICE", "-d", dir]);
    expectOk(reset);
    expect(reset.stdout).toContain("Removed the authenticator app of alice.");
    expect(query(dir, "SELECT * FROM totp")).toEqual([]);
    expect(query(dir, "SELECT * FROM recovery_codes")).toEqual([]);
    expect(ssoctl(["user", "totp", "reset", "alice", "-d", dir]).stdout).toContain("had no authenticator app");
    expectError(ssoctl(["user", "totp", "reset", "nobody", "-d", dir]), 1, /no user named "nobody"/);
  });
});
