/** `ssoctl user invite` and `ssoctl user reset`: a user without a password, a one-time link stored hashed. */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { addSession, copyDataDir, expectError, expectOk, initDataDir, PASSWORD, query, ssoctl } from "./helpers.js";

let template: string;

beforeAll(() => {
  template = initDataDir();
  expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "-d", template], { input: `${PASSWORD}\n` }));
});

function linkOf(stdout: string): string {
  return /^(\S*\/invite\/[A-Za-z0-9_-]{43})$/m.exec(stdout)![1]!;
}

describe("ssoctl user invite", () => {
  it("adds the user without a password and prints a link whose token is stored only as a digest", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["user", "invite", "erin", "--name", "Erin", "--groups", "dev,ops", "--ttl", "2h", "--public-url", "https://sso.example.com/", "-d", dir]);
    expectOk(result);
    expect(result.stdout).toContain("Added user erin without a password.");
    expect(result.stdout).toContain("it works once, for 2h");
    const link = linkOf(result.stdout);
    expect(link).toMatch(/^https:\/\/sso\.example\.com\/invite\//);
    const token = link.split("/invite/")[1]!;
    const [user] = query<{ password_hash: string; groups: string; name: string }>(dir, "SELECT password_hash, groups, name FROM users WHERE username = 'erin'");
    expect(user).toEqual({ password_hash: "", groups: "dev,ops", name: "Erin" });
    const [row] = query<{ token_hash: string; expires_at: number; created_at: number }>(dir, "SELECT token_hash, expires_at, created_at FROM invitations");
    expect(row!.token_hash).toBe(createHash("sha256").update(token).digest("base64url"));
    expect(row!.expires_at - row!.created_at).toBe(7200);
    expect(query(dir, "SELECT event FROM audit WHERE event = 'user.invited'")).toHaveLength(1);
  });

  it("prints the path alone without a public URL, and says so", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["user", "invite", "erin", "-d", dir]);
    expectOk(result);
    expect(linkOf(result.stdout)).toMatch(/^\/invite\//);
    expect(result.stdout).toContain("--public-url");
  });

  it("refuses an existing user, a bad name, a bad ttl or URL, changing nothing", () => {
    const dir = copyDataDir(template);
    expectError(ssoctl(["user", "invite", "ALICE", "-d", dir]), 1, /already exists/);
    expectError(ssoctl(["user", "invite", "bad name", "-d", dir]), 1, /username/);
    expectError(ssoctl(["user", "invite", "erin", "--ttl", "forever", "-d", dir]), 2, /--ttl "forever" is not a duration/);
    expectError(ssoctl(["user", "invite", "erin", "--ttl", "90d", "-d", dir]), 2, /between 1m and 30d/);
    expectError(ssoctl(["user", "invite", "erin", "--public-url", "ftp://x", "-d", dir]), 2, /http:\/\/ or https:\/\//);
    expect(query(dir, "SELECT username FROM users WHERE username = 'erin'")).toEqual([]);
  });
});

describe("ssoctl user reset", () => {
  it("clears the password, ends the sessions and prints a new link", () => {
    const dir = copyDataDir(template);
    addSession(dir, "alice-session", "alice");
    const result = ssoctl(["user", "reset", "alice", "-d", dir]);
    expectOk(result);
    expect(result.stdout).toContain("Cleared the password of alice; ended 1 session(s).");
    linkOf(result.stdout);
    expect(query<{ password_hash: string }>(dir, "SELECT password_hash FROM users WHERE username = 'alice'")).toEqual([{ password_hash: "" }]);
    expect(query(dir, "SELECT id FROM sessions")).toEqual([]);
    expectError(ssoctl(["user", "reset", "nobody", "-d", dir]), 1, /no user named "nobody"/);
  });
});
