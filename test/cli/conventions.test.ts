/** What holds across commands: one key convention in every `--json`, the same answer for a name that is no user, only real methods in rules. */
import { describe, expect, it } from "vitest";
import { addSession, expectError, expectOk, initDataDir, PASSWORD, ssoctl } from "./helpers.js";

function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner)]);
}

/** Each test runs the real command a dozen times; on a loaded machine one run takes seconds. */
const SLOW = { timeout: 180_000 };

describe("ssoctl conventions", () => {
  it("every --json output uses camelCase keys", SLOW, () => {
    const dir = initDataDir();
    expectOk(ssoctl(["user", "add", "alice", "--password-stdin", "--groups", "staff", "-d", dir], { input: `${PASSWORD}\n` }));
    expectOk(ssoctl(["app", "add", "https://wiki.example.com", "--allow-group", "staff", "-d", dir]));
    expectOk(ssoctl(["rule", "add", "wiki.example.com", "--path", "/admin", "--method", "POST", "--allow-user", "alice", "-d", dir]));
    addSession(dir, "s".repeat(43), "alice");
    const added = ssoctl(["client", "add", "grafana", "--redirect-uri", "https://grafana.example.com/cb", "--post-logout-uri", "https://grafana.example.com/", "--json", "-d", dir]);
    expectOk(added);
    const outputs = [
      added.stdout,
      ...[["user", "list"], ["app", "list"], ["rule", "list"], ["session", "list"], ["client", "list"]].map((args) => {
        const result = ssoctl([...args, "--json", "-d", dir]);
        expectOk(result);
        return result.stdout;
      }),
      ssoctl(["doctor", "--json", "-d", dir]).stdout,
    ];
    const keys = new Set(outputs.flatMap((text) => keysOf(JSON.parse(text))));
    // Each command said something with keys of more than one word.
    expect([...keys]).toEqual(expect.arrayContaining(["clientId", "clientSecret", "redirectUris", "postLogoutUris", "allowGroups", "clientAddr", "userAgent"]));
    expect([...keys].filter((key) => !/^[a-z][a-zA-Z0-9]*$/.test(key))).toEqual([]);
  });

  it("session list and session revoke answer a name that is no user alike: one line, exit 1", SLOW, () => {
    const dir = initDataDir();
    for (const args of [["session", "list", "--user", "nobody"], ["session", "list", "--user", "nobody", "--json"], ["session", "revoke", "--user", "nobody"]]) {
      const result = ssoctl([...args, "-d", dir]);
      expectError(result, 1, /^ssoctl: no user named "nobody" and no sessions for that name\n$/);
      expect(result.stdout).toBe("");
    }
    // A user without sessions is no error.
    expectOk(ssoctl(["user", "add", "bob", "--password-stdin", "-d", dir], { input: `${PASSWORD}\n` }));
    const list = ssoctl(["session", "list", "--user", "bob", "--json", "-d", dir]);
    expectOk(list);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it("rule add --method takes only real methods (upper-cased), and refuses others with the list it takes", SLOW, () => {
    const dir = initDataDir();
    expectOk(ssoctl(["app", "add", "https://wiki.example.com", "-d", dir]));
    for (const method of ["FETCH", "GETT", "get;", "DELETEX"]) {
      const result = ssoctl(["rule", "add", "wiki.example.com", "--path", "/admin", "--method", method, "--policy", "deny", "-d", dir]);
      expectError(result, 2, /^ssoctl: --method "[^"]+" is not an HTTP method; use one of GET, HEAD, POST, PUT, DELETE, /);
    }
    expect(JSON.parse(ssoctl(["rule", "list", "--json", "-d", dir]).stdout)).toEqual([]);
    expectOk(ssoctl(["rule", "add", "wiki.example.com", "--path", "/admin", "--method", "delete", "--method", "PROPFIND", "--policy", "deny", "-d", dir]));
    expect(JSON.parse(ssoctl(["rule", "list", "--json", "-d", dir]).stdout)[0].methods).toEqual(["DELETE", "PROPFIND"]);
  });
});
