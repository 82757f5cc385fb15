import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { keyId } from "../../src/token.js";
import { addSession, copyDataDir, expectError, expectOk, initDataDir, mode, query, snapshot, ssoctl } from "./helpers.js";

let template: string;

beforeAll(() => {
  template = initDataDir();
  // A user row without going through argon2: sessions only need the name.
  query(template, "INSERT INTO users (username, password_hash, created_at) VALUES ('alice', 'x', 0), ('bob', 'x', 0) RETURNING 1");
});

function secret(dir: string): string {
  return fs.readFileSync(path.join(dir, "secret.key"), "utf8").trim();
}

describe("ssoctl key show", () => {
  it("prints exactly the key in secret.key", () => {
    const result = ssoctl(["key", "show", "--data-dir", template]);
    expectOk(result);
    expect(result.stdout).toBe(`${secret(template)}\n`);
  });
});

describe("ssoctl key rotate", () => {
  it("writes a new key (still 0600) and keeps the previous one verifying for the grace period", () => {
    const dir = copyDataDir(template);
    const previous = secret(dir);
    const startedAt = Math.floor(Date.now() / 1000);
    const result = ssoctl(["key", "rotate", "--grace", "2h", "--data-dir", dir]);
    expectOk(result);
    const next = secret(dir);
    expect(next).not.toBe(previous);
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mode(path.join(dir, "secret.key"))).toBe(0o600);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(result.stdout).toContain(keyId(next));
    expect(result.stdout).toMatch(/verify for 2h more/);
    const [retired] = query<{ kid: string; secret: string; retired_at: number; expires_at: number }>(dir, "SELECT * FROM retired_keys");
    expect(retired).toMatchObject({ kid: keyId(previous), secret: previous });
    expect(retired!.expires_at - retired!.retired_at).toBe(7200);
    expect(retired!.retired_at).toBeGreaterThanOrEqual(startedAt);
    expect(ssoctl(["key", "show", "--data-dir", dir]).stdout).toBe(`${next}\n`);
  });

  it("defaults to a 24h grace", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["key", "rotate", "--data-dir", dir]));
    const [retired] = query<{ retired_at: number; expires_at: number }>(dir, "SELECT * FROM retired_keys");
    expect(retired!.expires_at - retired!.retired_at).toBe(86400);
  });

  it.each([["1x"], ["0s"], ["-1h"], ["forever"]])("refuses --grace %s as a usage error and keeps the key", (grace) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["key", "rotate", "--grace", grace, "--data-dir", dir]), 2, /is not a duration like 90s, 15m, 12h or 30d/);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("ssoctl session list", () => {
  it("lists live sessions as a table and as JSON, optionally for one user", () => {
    const dir = copyDataDir(template);
    addSession(dir, "sess-alice", "alice");
    addSession(dir, "sess-bob", "bob");
    addSession(dir, "sess-old", "alice", { expiresAt: 1000 });
    addSession(dir, "sess-anon", "anonymous", { anonymous: true });
    const table = ssoctl(["session", "list", "--data-dir", dir]);
    expectOk(table);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+USER\s+CREATED\s+EXPIRES\s+CLIENT$/);
    expect(lines).toHaveLength(4);
    expect(table.stdout).not.toContain("sess-old");
    expect(table.stdout).toMatch(/sess-anon\s+anonymous \(anonymous\)/);

    const json = ssoctl(["session", "list", "--user", "ALICE", "--json", "--data-dir", dir]);
    expectOk(json);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        id: "sess-alice",
        username: "alice",
        anonymous: false,
        created: expect.stringMatching(/Z$/),
        expires: expect.stringMatching(/Z$/),
        clientAddr: "192.0.2.7",
        userAgent: "test",
      },
    ]);
  });

  it("prints [] with --json when there are no sessions", () => {
    const result = ssoctl(["session", "list", "--json", "--data-dir", template]);
    expectOk(result);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });
});

describe("ssoctl session revoke", () => {
  function sessions(dir: string): string[] {
    return query<{ id: string }>(dir, "SELECT id FROM sessions ORDER BY id").map((r) => r.id);
  }

  function withSessions(): string {
    const dir = copyDataDir(template);
    addSession(dir, "a1", "alice");
    addSession(dir, "a2", "alice");
    addSession(dir, "b1", "bob");
    return dir;
  }

  it("ends one session by ID", () => {
    const dir = withSessions();
    const result = ssoctl(["session", "revoke", "a1", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toBe("Ended 1 session(s).\n");
    expect(sessions(dir)).toEqual(["a2", "b1"]);
    expect(query<{ event: string }>(dir, "SELECT event FROM audit")).toEqual([{ event: "session.revoked" }]);
  });

  it("ends all of a user's sessions with --user", () => {
    const dir = withSessions();
    const result = ssoctl(["session", "revoke", "--user", "alice", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toBe("Ended 2 session(s).\nLeft in place: the password (`ssoctl user factors alice` lists them).\n");
    expect(sessions(dir)).toEqual(["b1"]);
  });

  it("ends every session with --all", () => {
    const dir = withSessions();
    expectOk(ssoctl(["session", "revoke", "--all", "--data-dir", dir]));
    expect(sessions(dir)).toEqual([]);
  });

  it("refuses an unknown session ID and ends nothing", () => {
    const dir = withSessions();
    const before = snapshot(dir);
    expectError(ssoctl(["session", "revoke", "nope", "--data-dir", dir]), 1, /no session with id nope/);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses an unknown user with no sessions", () => {
    const dir = withSessions();
    const before = snapshot(dir);
    expectError(ssoctl(["session", "revoke", "--user", "nobody", "--data-dir", dir]), 1, /no user named "nobody"/);
    expect(snapshot(dir)).toEqual(before);
  });

  it.each([
    ["nothing", []],
    ["an ID and --all", ["a1", "--all"]],
    ["--user and --all", ["--user", "alice", "--all"]],
  ])("with %s is a usage error that ends nothing", (_label, args) => {
    const dir = withSessions();
    const before = snapshot(dir);
    expectError(ssoctl(["session", "revoke", ...args, "--data-dir", dir]), 2, /exactly one of/);
    expect(snapshot(dir)).toEqual(before);
  });
});
