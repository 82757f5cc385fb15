import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { expectError, expectOk, initDataDir, mode, query, snapshot, ssoctl, tempDir } from "./helpers.js";
import { loadMigrations, migrationsDir } from "../../src/store/migrations.js";

describe("ssoctl init", () => {
  it("creates the directory 0700 with ssoctl.db and secret.key 0600, and prints the paths and next steps", () => {
    const dir = path.join(tempDir(), "nested", "data");
    const result = ssoctl(["init", "--data-dir", dir]);
    expectOk(result);
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, "ssoctl.db"))).toBe(0o600);
    expect(mode(path.join(dir, "secret.key"))).toBe(0o600);
    expect(mode(path.join(dir, "oidc-keys.json"))).toBe(0o600);
    expect(fs.readdirSync(dir).sort()).toEqual(["oidc-keys.json", "secret.key", "ssoctl.db"]);
    expect(result.stdout).toContain(path.join(dir, "ssoctl.db"));
    expect(result.stdout).toContain(path.join(dir, "secret.key"));
    expect(result.stdout).toMatch(/ssoctl user add .*--data-dir/);
    expect(result.stdout).toMatch(/ssoctl app add/);
  });

  it("writes a 256-bit base64url key and an up-to-date schema", () => {
    const dir = initDataDir();
    const key = fs.readFileSync(path.join(dir, "secret.key"), "utf8");
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(Buffer.from(key.trim(), "base64url")).toHaveLength(32);
    // Every migration shipped, whichever they are by now.
    expect(query<{ version: number }>(dir, "SELECT version FROM schema_migrations ORDER BY version")).toEqual(
      loadMigrations(migrationsDir("sqlite")).map((m) => ({ version: m.version })),
    );
    expect(query(dir, "SELECT * FROM users")).toEqual([]);
  });

  it("makes a different key each time", () => {
    const a = fs.readFileSync(path.join(initDataDir(), "secret.key"), "utf8");
    const b = fs.readFileSync(path.join(initDataDir(), "secret.key"), "utf8");
    expect(a).not.toBe(b);
  });

  it("tightens an existing empty directory to 0700", () => {
    const dir = path.join(tempDir(), "data");
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    expectOk(ssoctl(["init", "--data-dir", dir]));
    expect(mode(dir)).toBe(0o700);
  });

  it("uses SSOCTL_DATA_DIR, and the XDG data directory (never the working directory) when neither is given", () => {
    const fromEnv = path.join(tempDir(), "env-data");
    expectOk(ssoctl(["init"], { env: { SSOCTL_DATA_DIR: fromEnv } }));
    expect(fs.existsSync(path.join(fromEnv, "ssoctl.db"))).toBe(true);

    const cwd = tempDir();
    const xdg = tempDir();
    expectOk(ssoctl(["init"], { cwd, env: { XDG_DATA_HOME: xdg } }));
    expect(fs.existsSync(path.join(xdg, "ssoctl", "secret.key"))).toBe(true);
    expect(fs.readdirSync(cwd)).toEqual([]);
    const home = tempDir();
    expectOk(ssoctl(["init"], { cwd, env: { XDG_DATA_HOME: undefined, HOME: home } }));
    expect(fs.existsSync(path.join(home, ".local", "share", "ssoctl", "ssoctl.db"))).toBe(true);

    const flagWins = path.join(tempDir(), "flag-data");
    const ignored = path.join(tempDir(), "ignored");
    expectOk(ssoctl(["init", "--data-dir", flagWins], { env: { SSOCTL_DATA_DIR: ignored } }));
    expect(fs.existsSync(path.join(flagWins, "ssoctl.db"))).toBe(true);
    expect(fs.existsSync(ignored)).toBe(false);
  });

  it("refuses a directory that already has a database and key, leaving both byte-identical", () => {
    const dir = initDataDir();
    const db = fs.readFileSync(path.join(dir, "ssoctl.db"));
    const key = fs.readFileSync(path.join(dir, "secret.key"));
    expectError(ssoctl(["init", "--data-dir", dir]), 1, /already exists.*never overwrites/);
    expect(fs.readFileSync(path.join(dir, "ssoctl.db")).equals(db)).toBe(true);
    expect(fs.readFileSync(path.join(dir, "secret.key")).equals(key)).toBe(true);
  });

  it("refuses a directory that has only a key, and creates no database", () => {
    const dir = initDataDir();
    fs.rmSync(path.join(dir, "ssoctl.db"));
    const key = fs.readFileSync(path.join(dir, "secret.key"));
    expectError(ssoctl(["init", "--data-dir", dir]), 1, /secret\.key already exists/);
    expect(fs.readFileSync(path.join(dir, "secret.key")).equals(key)).toBe(true);
    expect(fs.existsSync(path.join(dir, "ssoctl.db"))).toBe(false);
  });

  it("refuses a directory that has only a database, and writes no key", () => {
    const dir = initDataDir();
    fs.rmSync(path.join(dir, "secret.key"));
    const db = fs.readFileSync(path.join(dir, "ssoctl.db"));
    expectError(ssoctl(["init", "--data-dir", dir]), 1, /ssoctl\.db already exists/);
    expect(fs.readFileSync(path.join(dir, "ssoctl.db")).equals(db)).toBe(true);
    expect(fs.existsSync(path.join(dir, "secret.key"))).toBe(false);
  });

  it("refuses a data directory path that is a file", () => {
    const file = path.join(tempDir(), "a-file");
    fs.writeFileSync(file, "x");
    expectError(ssoctl(["init", "--data-dir", file]), 1, /cannot create the data directory/);
    expect(fs.readFileSync(file, "utf8")).toBe("x");
  });
});

describe("commands before init", () => {
  const cases: [string, string[], string?][] = [
    ["user list", ["user", "list"]],
    ["user add", ["user", "add", "alice", "--password-stdin"], "password123\n"],
    ["user remove", ["user", "remove", "alice"]],
    ["app add", ["app", "add", "https://app.example.com"]],
    ["app list", ["app", "list", "--json"]],
    ["key show", ["key", "show"]],
    ["key rotate", ["key", "rotate"]],
    ["session list", ["session", "list"]],
    ["session revoke", ["session", "revoke", "--all"]],
  ];

  it.each(cases)("%s says to run `ssoctl init` and creates nothing", (_label, args, input) => {
    const dir = path.join(tempDir(), "data");
    expectError(ssoctl([...args, "--data-dir", dir], { input }), 1, /run `ssoctl init`/);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe("a broken data directory", () => {
  it("reports a corrupt database in one line, without a stack trace, and leaves the file alone", () => {
    const dir = initDataDir();
    const garbage = Buffer.from("definitely not SQLite; ".repeat(200));
    fs.writeFileSync(path.join(dir, "ssoctl.db"), garbage);
    for (const args of [["user", "list"], ["app", "add", "https://a.example.com"], ["session", "list", "--json"]]) {
      expectError(ssoctl([...args, "--data-dir", dir]), 1, /^ssoctl: .*(not an SQLite database|corrupt)/);
    }
    expect(fs.readFileSync(path.join(dir, "ssoctl.db")).equals(garbage)).toBe(true);
  });

  it("refuses an empty database file instead of silently making a new database", () => {
    const dir = initDataDir();
    fs.writeFileSync(path.join(dir, "ssoctl.db"), "");
    expectError(ssoctl(["user", "list", "--data-dir", dir]), 1, /ssoctl\.db is empty .*run `ssoctl init`/);
    expect(fs.statSync(path.join(dir, "ssoctl.db")).size).toBe(0);
  });

  it("reports a damaged key file instead of using it", () => {
    const dir = initDataDir();
    fs.writeFileSync(path.join(dir, "secret.key"), "short\n");
    expectError(ssoctl(["key", "show", "--data-dir", dir]), 1, /does not hold a valid key/);
    expectError(ssoctl(["key", "rotate", "--data-dir", dir]), 1, /does not hold a valid key/);
    expect(fs.readFileSync(path.join(dir, "secret.key"), "utf8")).toBe("short\n");
  });

  it("reports an unreadable data directory as a permission problem, not as a missing init", () => {
    const dir = initDataDir();
    const before = snapshot(dir);
    fs.chmodSync(dir, 0o000);
    try {
      for (const args of [["user", "list"], ["app", "list"], ["session", "list"], ["key", "show"]]) {
        const result = ssoctl([...args, "--data-dir", dir], { withoutFileOverride: true });
        expectError(result, 1, /permission denied/);
        expect(result.stderr).not.toMatch(/ssoctl init/);
      }
    } finally {
      fs.chmodSync(dir, 0o700);
    }
    expect(snapshot(dir)).toEqual(before);
  });
});
