/** `user set`, `app add|set` with access options, `rule add|list|remove`: the built binary, a real SQLite file. */
import { beforeAll, describe, expect, it } from "vitest";
import { copyDataDir, expectError, expectOk, initDataDir, PASSWORD, query, snapshot, ssoctl } from "./helpers.js";

let template: string;

beforeAll(() => {
  template = initDataDir();
  expectOk(ssoctl(["user", "add", "alice", "--groups", "dev", "--password-stdin", "--data-dir", template], { input: `${PASSWORD}\n` }));
  expectOk(ssoctl(["app", "add", "https://grafana.example.com", "--name", "grafana", "--data-dir", template]));
});

function json<T>(args: string[], dir: string): T {
  const result = ssoctl([...args, "--json", "--data-dir", dir]);
  expectOk(result);
  return JSON.parse(result.stdout) as T;
}

describe("ssoctl user set", () => {
  it("changes only the options given", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["user", "set", "ALICE", "--groups", "staff,admins", "--data-dir", dir]));
    expectOk(ssoctl(["user", "set", "alice", "--email", "alice@example.com", "--data-dir", dir]));
    const [alice] = json<Array<{ name: string; email: string; groups: string[] }>>(["user", "list"], dir);
    expect(alice).toMatchObject({ name: "", email: "alice@example.com", groups: ["staff", "admins"] });
    expect(query<{ event: string }>(dir, "SELECT event FROM audit WHERE event = 'user.changed'")).toHaveLength(2);
  });

  it.each([
    ["an unknown user", ["user", "set", "nobody", "--name", "X"], 1, /no user named "nobody"/],
    ["nothing to change", ["user", "set", "alice"], 2, /nothing to change/],
    ["a bad group", ["user", "set", "alice", "--groups", "a b"], 1, /group "a b"/],
  ] as const)("refuses %s and changes nothing", (_label, args, code, message) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl([...args, "--data-dir", dir]), code, message);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("ssoctl app add|set with access options", () => {
  it("adds an app limited to groups and users, and app list shows its policy and who may use it", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "https://wiki.example.com", "--name", "wiki", "--policy", "two_factor", "--allow-group", "staff", "--allow-user", "bob", "--data-dir", dir]));
    const listed = ssoctl(["app", "list", "--data-dir", dir]);
    expectOk(listed);
    expect(listed.stdout).toMatch(/^grafana\s+https:\/\/grafana\.example\.com\s+one_factor\s+anyone\s/m);
    expect(listed.stdout).toMatch(/^wiki\s+https:\/\/wiki\.example\.com\s+two_factor\s+group:staff,user:bob\s/m);
    expect(json<unknown[]>(["app", "list"], dir)).toContainEqual(
      expect.objectContaining({ name: "wiki", policy: "two_factor", allowGroups: ["staff"], allowUsers: ["bob"] }),
    );
  });

  it("sets the policy and audience by name, then --allow-any clears the audience", () => {
    const dir = copyDataDir(template);
    const set = ssoctl(["app", "set", "grafana", "--allow-group", "staff", "--allow-group", "ops", "--data-dir", dir]);
    expectOk(set);
    expect(set.stdout).toBe("App grafana (https://grafana.example.com): policy one_factor, allowed group:staff,group:ops\n");
    expectOk(ssoctl(["app", "set", "https://grafana.example.com", "--policy", "bypass", "--data-dir", dir]));
    expect(json<unknown[]>(["app", "list"], dir)).toEqual([expect.objectContaining({ policy: "bypass", allowGroups: ["staff", "ops"] })]);
    expectOk(ssoctl(["app", "set", "grafana", "--allow-any", "--data-dir", dir]));
    expect(json<unknown[]>(["app", "list"], dir)).toEqual([expect.objectContaining({ policy: "bypass", allowGroups: [], allowUsers: [] })]);
    expect(query<{ event: string }>(dir, "SELECT event FROM audit WHERE event = 'app.changed'")).toHaveLength(3);
  });

  it.each([
    ["an unknown app", ["app", "set", "nope", "--policy", "deny"], 1, /no app registered as "nope"/],
    ["an unknown policy", ["app", "set", "grafana", "--policy", "three_factor"], 2, /three_factor/],
    ["an unknown policy on add", ["app", "add", "https://x.example.com", "--policy", "open"], 2, /open/],
    ["an empty group name", ["app", "set", "grafana", "--allow-group", ""], 2, /--allow-group needs a group name/],
    ["an empty group name on add", ["app", "add", "https://x.example.com", "--allow-group", ""], 2, /--allow-group needs a group name/],
    ["a bad username", ["app", "set", "grafana", "--allow-user", "a b"], 2, /--allow-user/],
    ["--allow-any with a group", ["app", "set", "grafana", "--allow-any", "--allow-group", "x"], 2, /--allow-any/],
    ["nothing to change", ["app", "set", "grafana"], 2, /nothing to change/],
  ] as const)("refuses %s and changes nothing", (_label, args, code, message) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl([...args, "--data-dir", dir]), code, message);
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("ssoctl rule", () => {
  it("adds, lists (table and JSON, all or one app's) and removes rules", () => {
    const dir = copyDataDir(template);
    const added = ssoctl(["rule", "add", "grafana", "--path", "/admin/", "--allow-group", "admins", "--data-dir", dir]);
    expectOk(added);
    expect(added.stdout).toBe("Added rule 1 for grafana: /admin (any method), policy the app's, allowed group:admins\n");
    expectOk(ssoctl(["rule", "add", "https://grafana.example.com/", "--path", "/api", "--method", "post", "--method", "PUT", "--policy", "two_factor", "--allow-user", "bob", "--data-dir", dir]));
    const table = ssoctl(["rule", "list", "--data-dir", dir]);
    expectOk(table);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+APP\s+PATH\s+METHODS\s+POLICY\s+ALLOWED$/);
    expect(table.stdout).toMatch(/^1\s+grafana\s+\/admin\s+any\s+\(app's\)\s+group:admins$/m);
    expect(table.stdout).toMatch(/^2\s+grafana\s+\/api\s+POST,PUT\s+two_factor\s+user:bob$/m);
    expect(json<unknown[]>(["rule", "list", "grafana"], dir)).toEqual([
      expect.objectContaining({ id: 1, app: "grafana", origin: "https://grafana.example.com", path: "/admin", methods: [], policy: null, groups: ["admins"], users: [] }),
      expect.objectContaining({ id: 2, path: "/api", methods: ["POST", "PUT"], policy: "two_factor", groups: [], users: ["bob"] }),
    ]);
    const removed = ssoctl(["rule", "remove", "1", "--data-dir", dir]);
    expectOk(removed);
    expect(removed.stdout).toBe("Removed rule 1 of grafana (/admin).\n");
    expect(json<Array<{ id: number }>>(["rule", "list"], dir).map((r) => r.id)).toEqual([2]);
    expect(query<{ event: string }>(dir, "SELECT event FROM audit WHERE event LIKE 'rule.%' ORDER BY id")).toEqual([
      { event: "rule.added" },
      { event: "rule.added" },
      { event: "rule.removed" },
    ]);
  });

  it.each([
    ["an unknown app", ["rule", "add", "nope", "--path", "/x"], 1, /no app registered as "nope"/],
    ["a path without a leading /", ["rule", "add", "grafana", "--path", "admin"], 2, /must be a path starting with "\/"/],
    ["no --path", ["rule", "add", "grafana"], 2, /--path/],
    ["an unknown policy", ["rule", "add", "grafana", "--path", "/x", "--policy", "nobody"], 2, /nobody/],
    ["an empty group name", ["rule", "add", "grafana", "--path", "/x", "--allow-group", ""], 2, /--allow-group needs a group name/],
    ["a bad method", ["rule", "add", "grafana", "--path", "/x", "--method", "GET /"], 2, /not an HTTP method/],
    ["an unknown rule id", ["rule", "remove", "99"], 1, /no rule with id 99/],
    ["a rule id that is not a number", ["rule", "remove", "x1"], 2, /not a rule id/],
    ["listing an unknown app", ["rule", "list", "nope"], 1, /no app registered as "nope"/],
  ] as const)("refuses %s and changes nothing", (_label, args, code, message) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl([...args, "--data-dir", dir]), code, message);
    expect(snapshot(dir)).toEqual(before);
  });
});
