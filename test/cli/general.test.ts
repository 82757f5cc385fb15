import * as fs from "node:fs";
import * as path from "node:path";
import argon2 from "argon2";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { expectError, expectOk, initDataDir, ROOT, snapshot, ssoctl, ssoctlWithOpenStdin } from "./helpers.js";

const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;

describe("ssoctl --version and --help", () => {
  it.each([["--version"], ["-V"]])("%s prints the package version", (flag) => {
    const result = ssoctl([flag]);
    expectOk(result);
    expect(result.stdout).toBe(`${VERSION}\n`);
  });

  it("--help lists every command on stdout", () => {
    const result = ssoctl(["--help"]);
    expectOk(result);
    for (const command of ["init", "user", "app", "key", "session", "hash"]) expect(result.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, "m"));
  });

  it.each([
    [["user", "--help"], ["add", "remove", "list", "passwd", "disable", "enable", "unlock"]],
    [["user", "add", "--help"], ["--password-stdin", "--name", "--email", "--groups", "--data-dir"]],
    [["app", "-h"], ["add", "list", "remove"]],
    [["key", "rotate", "--help"], ["--grace"]],
    [["session", "revoke", "--help"], ["--user", "--all"]],
    [["init", "--help"], ["--data-dir"]],
    [["hash", "--help"], ["--password-stdin"]],
  ])("%j shows the command's help", (args, words) => {
    const result = ssoctl(args);
    expectOk(result);
    for (const word of words) expect(result.stdout).toContain(word);
    expect(result.stdout).not.toMatch(/--password </);
  });
});

describe("usage errors (exit 2, one line)", () => {
  it.each([
    ["an unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    ["an unknown subcommand", ["user", "lst"], /unknown command 'lst'/],
    ["an unknown option", ["user", "list", "--jsn"], /unknown option '--jsn'/],
    ["an unknown top-level option", ["-x"], /unknown option '-x'/],
    ["a missing argument", ["user", "remove"], /missing required argument 'name'/],
    ["an extra argument", ["user", "list", "extra"], /too many arguments/],
    ["an option without its value", ["key", "rotate", "--grace"], /argument missing/],
  ])("%s", (_label, args, message) => {
    expectError(ssoctl(args), 2, message);
  });

  it.each([[["user"]], [["session"]], [[]]])("%j without a subcommand shows help on stderr and exits 2", (args) => {
    const result = ssoctl(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^Usage: ssoctl/);
  });
});

describe("unexpected errors", () => {
  it("are one line pointing at SSOCTL_DEBUG, and show the stack only with SSOCTL_DEBUG=1", () => {
    const dir = initDataDir();
    // A database damaged in a way no check anticipates: a table is missing.
    const db = new Database(path.join(dir, "ssoctl.db"));
    db.exec("DROP TABLE apps");
    db.close();
    expectError(ssoctl(["user", "list", "--data-dir", dir]), 1, /^ssoctl: unexpected error: .*no such table: apps.*SSOCTL_DEBUG=1/);
    const debug = ssoctl(["user", "list", "--data-dir", dir], { env: { SSOCTL_DEBUG: "1" } });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});

describe("ssoctl hash", () => {
  it("prints an argon2id hash of the first line of stdin that verifies that password", async () => {
    const result = ssoctl(["hash", "--password-stdin"], { input: "sesame-open-sesame\n" });
    expectOk(result);
    const hash = result.stdout.trim();
    expect(result.stdout).toMatch(/^\$argon2id\$v=19\$[^\n]+\n$/);
    expect(await argon2.verify(hash, "sesame-open-sesame")).toBe(true);
    expect(await argon2.verify(hash, "sesame-open-sesamE")).toBe(false);
  });

  it.each([
    ["a short password", "short\n", /at least 8/],
    ["empty input", "", /no password on standard input/],
  ])("refuses %s", (_label, input, message) => {
    expectError(ssoctl(["hash", "--password-stdin"], { input }), 1, message);
  });

  it("fails at once without a TTY and without --password-stdin", async () => {
    const result = await ssoctlWithOpenStdin(["hash"], 10_000);
    expect(result.timedOut).toBe(false);
    expectError(result, 2, /no password given/);
  });

  it("refuses --password as an argument and says why", () => {
    expectError(ssoctl(["hash", "--password", "hunter2hunter2"]), 2, /passwords are never taken as arguments/);
  });
});

describe("nothing changes on a usage error", () => {
  it("leaves the data directory untouched", () => {
    const dir = initDataDir();
    const before = snapshot(dir);
    expectError(ssoctl(["user", "add", "--data-dir", dir]), 2, /missing required argument/);
    expectError(ssoctl(["app", "add", "https://a.example.com", "--bogus", "--data-dir", dir]), 2, /unknown option/);
    expect(snapshot(dir)).toEqual(before);
  });
});
