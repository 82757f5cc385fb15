import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  addSession,
  copyDataDir,
  expectError,
  expectOk,
  initDataDir,
  PASSWORD,
  query,
  snapshot,
  ssoctl,
  ssoctlWithOpenStdin,
} from "./helpers.js";

interface UserRow {
  username: string;
  name: string;
  email: string;
  groups: string;
  password_hash: string;
  disabled: number;
}

/** One initialised directory with user "alice" (one argon2 hash), copied for each test. */
let template: string;

beforeAll(() => {
  template = initDataDir();
  expectOk(ssoctl(["user", "add", "alice", "--name", "Alice Smith", "--email", "alice@example.com", "--groups", "dev,ops", "--password-stdin", "--data-dir", template], { input: `${PASSWORD}\n` }));
});

function users(dir: string): UserRow[] {
  return query<UserRow>(dir, "SELECT username, name, email, groups, password_hash, disabled FROM users ORDER BY username");
}

describe("ssoctl user add", () => {
  it("stores the profile and an argon2id hash of the first line of stdin, never the password", () => {
    const [alice] = users(template);
    expect(alice).toMatchObject({ username: "alice", name: "Alice Smith", email: "alice@example.com", groups: "dev,ops", disabled: 0 });
    expect(alice!.password_hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(alice!.password_hash.split("$")[3]!.split(",").sort()).toEqual(["m=65536", "p=4", "t=3"]);
    const db = fs.readFileSync(path.join(template, "ssoctl.db"));
    expect(db.includes(Buffer.from(PASSWORD))).toBe(false);
    expect(query<{ event: string; username: string }>(template, "SELECT event, username FROM audit")).toEqual([
      { event: "user.added", username: "alice" },
    ]);
  });

  it("adds a second user, reading only the first line of stdin and dropping a CR", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["user", "add", "bob.b@corp", "--password-stdin", "--data-dir", dir], { input: "password-bob\r\nignored second line\n" });
    expectOk(result);
    expect(result.stdout).toBe("Added user bob.b@corp.\n");
    expect(users(dir).map((u) => u.username)).toEqual(["alice", "bob.b@corp"]);
  });

  it.each([
    ["a space", "bad name", /may contain only/],
    ["a slash", "a/b", /may contain only/],
    ["65 characters", "x".repeat(65), /at most 64/],
    ["a non-ASCII letter", "émile", /may contain only/],
  ])("refuses a username with %s before asking for a password", (_label, name, message) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["user", "add", name, "--password-stdin", "--data-dir", dir], { input: "password123\n" }), 1, message);
    expect(snapshot(dir)).toEqual(before);
  });

  it.each(["anonymous", "Anonymous", "ANONYMOUS"])("refuses the name anonymous visitors get (%s) before asking for a password", (name) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["user", "add", name, "--password-stdin", "--data-dir", dir], { input: "password123\n" }), 1, /is reserved for anonymous visitors/);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses a name that differs only in case from an existing user", () => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["user", "add", "ALICE", "--password-stdin", "--data-dir", dir], { input: "password123\n" }), 1, /"alice" already exists.*ignore case/);
    expect(snapshot(dir)).toEqual(before);
  });

  it.each([
    ["too short", "seven77\n", /at least 8 characters/],
    ["too long (over 1024 bytes)", `${"é".repeat(513)}\n`, /at most 1024 bytes/],
    ["empty", "", /no password on standard input/],
    ["an empty first line", "\nsecond-line-password\n", /no password on standard input/],
  ])("refuses a password that is %s and changes nothing", (_label, input, message) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["user", "add", "bob", "--password-stdin", "--data-dir", dir], { input }), 1, message);
    expect(snapshot(dir)).toEqual(before);
  });

  it.each([
    ["--email", ["--email", "not-an-email"], /is not an email address/],
    ["--groups", ["--groups", "ok,bad group"], /group "bad group" may contain only/],
    ["--name", ["--name", "x".repeat(201)], /--name takes at most 200/],
  ])("refuses a bad %s", (_label, extra, message) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["user", "add", "bob", ...extra, "--password-stdin", "--data-dir", dir], { input: "password123\n" }), 1, message);
    expect(snapshot(dir)).toEqual(before);
  });

  it("without a TTY and without --password-stdin fails at once with a usage error instead of waiting", async () => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    const result = await ssoctlWithOpenStdin(["user", "add", "bob", "--data-dir", dir], 10_000);
    expect(result.timedOut).toBe(false);
    expectError(result, 2, /no password given.*--password-stdin/);
    expect(snapshot(dir)).toEqual(before);
  });

  it.each([
    ["--password x", ["--password", "hunter2hunter2"]],
    ["--password=x", ["--password=hunter2hunter2"]],
  ])("refuses %s as a usage error that says passwords are never arguments", (_label, extra) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    const result = ssoctl(["user", "add", "bob", ...extra, "--data-dir", dir]);
    expectError(result, 2, /passwords are never taken as arguments/);
    expect(result.stderr).not.toContain("hunter2");
    expect(snapshot(dir)).toEqual(before);
  });

  it("needs a username (usage error)", () => {
    expectError(ssoctl(["user", "add", "--password-stdin", "--data-dir", copyDataDir(template)]), 2, /missing required argument/);
  });
});

describe("ssoctl user list", () => {
  it("prints an aligned table with a header", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["user", "add", "bob", "--password-stdin", "--data-dir", dir], { input: "password-bob\n" }));
    const result = ssoctl(["user", "list", "--data-dir", dir]);
    expectOk(result);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^USERNAME\s+NAME\s+EMAIL\s+GROUPS\s+DISABLED\s+CREATED\s+LAST LOGIN$/);
    expect(lines[1]).toMatch(/^alice\s+Alice Smith\s+alice@example\.com\s+dev,ops\s+no\s+\d{4}-\d\d-\d\dT\S+Z\s+never$/);
    expect(lines[2]).toMatch(/^bob\s+no\s+/);
    const emailColumn = lines[0]!.indexOf("EMAIL");
    expect(lines[1]!.indexOf("alice@example.com")).toBe(emailColumn);
  });

  it("prints a JSON array of objects with --json", () => {
    const result = ssoctl(["user", "list", "--json", "--data-dir", template]);
    expectOk(result);
    const parsed = JSON.parse(result.stdout) as unknown[];
    expect(parsed).toEqual([
      {
        username: "alice",
        name: "Alice Smith",
        email: "alice@example.com",
        groups: ["dev", "ops"],
        disabled: false,
        created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        lastLogin: null,
      },
    ]);
    expect(JSON.stringify(parsed)).not.toMatch(/argon2|hash/i);
  });

  it("prints an empty JSON array and a header-only table when there are no users", () => {
    const dir = initDataDir();
    const json = ssoctl(["user", "list", "--json", "--data-dir", dir]);
    expectOk(json);
    expect(JSON.parse(json.stdout)).toEqual([]);
    const table = ssoctl(["user", "list", "--data-dir", dir]);
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(1);
  });

  it("never writes control characters from the database to the terminal", () => {
    const dir = copyDataDir(template);
    const db = query(dir, "UPDATE users SET name = ? WHERE username = 'alice' RETURNING 1", "evil\x1b]0;pwned\x07\r\nname");
    expect(db).toHaveLength(1);
    const result = ssoctl(["user", "list", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    expect(result.stdout.trimEnd().split("\n")).toHaveLength(2);
  });
});

describe("ssoctl user passwd", () => {
  it("replaces the hash and ends the user's sessions, keeping other users'", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["user", "add", "bob", "--password-stdin", "--data-dir", dir], { input: "password-bob\n" }));
    addSession(dir, "s-alice", "alice");
    addSession(dir, "s-bob", "bob");
    const before = users(dir)[0]!.password_hash;
    const result = ssoctl(["user", "passwd", "ALICE", "--password-stdin", "--data-dir", dir], { input: "a new password\n" });
    expectOk(result);
    expect(result.stdout).toMatch(/Changed the password of alice; ended 1 session/);
    expect(users(dir)[0]!.password_hash).not.toBe(before);
    expect(query<{ id: string }>(dir, "SELECT id FROM sessions")).toEqual([{ id: "s-bob" }]);
  });

  it("refuses an unknown user without reading a password", () => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["user", "passwd", "nobody", "--password-stdin", "--data-dir", dir], { input: "password123\n" }), 1, /no user named "nobody"/);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses a short password and keeps the old hash and sessions", () => {
    const dir = copyDataDir(template);
    addSession(dir, "s-alice", "alice");
    const before = snapshot(dir);
    expectError(ssoctl(["user", "passwd", "alice", "--password-stdin", "--data-dir", dir], { input: "short\n" }), 1, /at least 8/);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses --password as an argument", () => {
    expectError(ssoctl(["user", "passwd", "alice", "--password", "x", "--data-dir", copyDataDir(template)]), 2, /never taken as arguments/);
  });

  it("fails at once without a TTY and without --password-stdin", async () => {
    const result = await ssoctlWithOpenStdin(["user", "passwd", "alice", "--data-dir", copyDataDir(template)], 10_000);
    expect(result.timedOut).toBe(false);
    expectError(result, 2, /no password given/);
  });
});

describe("ssoctl user disable / enable", () => {
  it("disabling marks the user and ends their sessions; enabling clears the mark", () => {
    const dir = copyDataDir(template);
    addSession(dir, "s1", "alice");
    addSession(dir, "s2", "alice");
    const disabled = ssoctl(["user", "disable", "alice", "--data-dir", dir]);
    expectOk(disabled);
    expect(disabled.stdout).toMatch(/Disabled alice; ended 2 session/);
    expect(users(dir)[0]!.disabled).toBe(1);
    expect(query(dir, "SELECT id FROM sessions")).toEqual([]);
    const listed = JSON.parse(ssoctl(["user", "list", "--json", "--data-dir", dir]).stdout) as { disabled: boolean }[];
    expect(listed[0]!.disabled).toBe(true);

    expectOk(ssoctl(["user", "enable", "alice", "--data-dir", dir]));
    expect(users(dir)[0]!.disabled).toBe(0);
  });

  it.each([["disable"], ["enable"], ["remove"], ["unlock"]])("%s refuses an unknown user and changes nothing", (verb) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["user", verb, "nobody", "--data-dir", dir]), 1, /no user named "nobody".*ssoctl user list/);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("ssoctl user unlock", () => {
  it("clears the user's sign-in throttling, whatever the case typed", () => {
    const dir = copyDataDir(template);
    const now = Math.floor(Date.now() / 1000);
    query(dir, "INSERT INTO throttle (scope, key, failures, window_start, locked_until) VALUES ('user', 'alice', 5, ?, ?) RETURNING 1", now, now + 600);
    query(dir, "INSERT INTO throttle (scope, key, failures, window_start, locked_until) VALUES ('addr', '192.0.2.1', 5, ?, ?) RETURNING 1", now, now + 600);
    const result = ssoctl(["user", "unlock", "Alice", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toMatch(/Unlocked/);
    expect(query(dir, "SELECT scope, key FROM throttle")).toEqual([{ scope: "addr", key: "192.0.2.1" }]);
  });

  it("says so when the user was not locked", () => {
    const result = ssoctl(["user", "unlock", "alice", "--data-dir", copyDataDir(template)]);
    expectOk(result);
    expect(result.stdout).toMatch(/was not locked/);
  });
});

describe("ssoctl user remove", () => {
  it("deletes the user and ends their sessions", () => {
    const dir = copyDataDir(template);
    addSession(dir, "s1", "alice");
    addSession(dir, "anon", "anonymous", { anonymous: true });
    const result = ssoctl(["user", "remove", "alice", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toMatch(/Removed user alice; ended 1 session/);
    expect(users(dir)).toEqual([]);
    expect(query(dir, "SELECT id FROM sessions")).toEqual([{ id: "anon" }]);
    expect(query<{ event: string }>(dir, "SELECT event FROM audit ORDER BY id DESC LIMIT 1")).toEqual([{ event: "user.removed" }]);
  });
});
