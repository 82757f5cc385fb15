import { describe, expect, it } from "vitest";
import { accessPath, decideAccess, matchRule, normalizeRulePath, type AccessRule } from "../../src/access/index.js";
import { APPS, CASES, USERS } from "./cases.js";

describe("decideAccess: the shared table", () => {
  it.each(CASES)("$name → $verdict", (c) => {
    const user = c.user === null ? null : { username: c.user, groups: USERS[c.user] };
    const decision = decideAccess({ user, amr: c.secondFactor ? ["pwd", "otp"] : ["pwd"], app: APPS[c.app], method: c.method, path: c.path });
    expect(decision.verdict).toBe(c.verdict);
  });
});

describe("decideAccess: details", () => {
  it("names the rule that decided and the reason", () => {
    const d = decideAccess({ user: { username: "bob", groups: ["staff"] }, amr: ["pwd"], app: APPS.staff, method: "GET", path: "/admin" });
    expect(d).toEqual({ verdict: "forbidden", ruleId: 1, policy: "one_factor", reason: "not_allowed" });
    const open = decideAccess({ user: null, amr: [], app: APPS.open, method: "GET", path: "/" });
    expect(open).toEqual({ verdict: "login", ruleId: null, policy: "one_factor", reason: "not_signed_in" });
  });

  it.each([
    ["/status//../admin", "forbidden"],
    ["//admin", "forbidden"],
    ["/status/..%2fadmin", "forbidden"],
    ["/status/./x", "allow"],
  ])("judges every reading of an odd path, the strictest wins: %s → %s", (path, verdict) => {
    const bob = { username: "bob", groups: ["staff"] };
    expect(decideAccess({ user: bob, amr: ["pwd"], app: APPS.staff, method: "GET", path }).verdict).toBe(verdict);
  });

  it("matches usernames ignoring case, groups exactly", () => {
    const app = { policy: "one_factor" as const, groups: ["Staff"], users: ["Bob"], rules: [] };
    expect(decideAccess({ user: { username: "bob", groups: [] }, amr: ["pwd"], app, method: "GET", path: "/" }).verdict).toBe("allow");
    expect(decideAccess({ user: { username: "carol", groups: ["staff"] }, amr: ["pwd"], app, method: "GET", path: "/" }).verdict).toBe("forbidden");
    expect(decideAccess({ user: { username: "carol", groups: ["Staff"] }, amr: ["pwd"], app, method: "GET", path: "/" }).verdict).toBe("allow");
  });

  it("a user who is not allowed is told so before being asked for a second factor", () => {
    const app = { policy: "two_factor" as const, groups: ["admins"], users: [], rules: [] };
    expect(decideAccess({ user: { username: "carol", groups: [] }, amr: ["pwd"], app, method: "GET", path: "/" }).verdict).toBe("forbidden");
  });

  it("a rule without a policy takes the app's; a rule naming nobody keeps the app's audience", () => {
    const app = { policy: "two_factor" as const, groups: ["staff"], users: [], rules: [rule(1, "/api", { methods: ["POST"] })] };
    const carol = { username: "carol", groups: [] };
    const bob = { username: "bob", groups: ["staff"] };
    expect(decideAccess({ user: carol, amr: ["pwd", "otp"], app, method: "POST", path: "/api" }).verdict).toBe("forbidden");
    expect(decideAccess({ user: bob, amr: ["pwd"], app, method: "POST", path: "/api" }).verdict).toBe("second_factor");
  });
});

function rule(id: number, path: string, options: Partial<AccessRule> = {}): AccessRule {
  return { id, path, methods: [], policy: null, groups: [], users: [], ...options };
}

describe("matchRule", () => {
  const rules = [
    rule(1, "/"),
    rule(2, "/admin"),
    rule(3, "/admin", { methods: ["POST"] }),
    rule(4, "/admin/reports", { methods: ["GET"] }),
    rule(5, "/", { methods: ["DELETE"] }),
  ];
  it.each([
    ["GET", "/x", 1],
    ["DELETE", "/x", 5],
    ["GET", "/admin", 2],
    ["POST", "/admin/x", 3],
    ["GET", "/admin/reports/1", 4],
    ["HEAD", "/admin/reports", 4],
    ["POST", "/admin/reports", 3],
    ["DELETE", "/admin/x", 2],
    ["get", "/admin/reports", 4],
  ] as const)("%s %s → rule %i", (method, path, id) => {
    expect(matchRule(rules, method, path)?.id).toBe(id);
  });

  it("no rule covers the path: null", () => {
    expect(matchRule([rule(2, "/admin")], "GET", "/administrator")).toBeNull();
  });
});

describe("accessPath", () => {
  it.each([
    ["/", "/"],
    ["", "/"],
    ["/a/b?x=/admin", "/a/b"],
    ["/a/b#frag", "/a/b"],
    ["/%61dmin", "/admin"],
    ["/a%2Fb", "/a/b"],
    ["/a/./b/../c", "/a/c"],
    ["/../../etc", "/etc"],
    ["/a/%2e%2e/b", "/b"],
    ["/a%2f..%2fadmin", "/admin"],
    ["/a\\..\\admin", "/admin"],
    ["/a%5cb", "/a/b"],
    ["//admin//x", "/admin/x"],
    ["/dir/", "/dir/"],
    ["/a/b/..", "/a/"],
    ["/%ff%zz", "/\uFFFD%zz"],
    ["/caf%C3%A9", "/café"],
  ])("%j → %j", (input, expected) => {
    expect(accessPath(input)).toBe(expected);
  });
});

describe("normalizeRulePath", () => {
  it.each([
    ["/admin/", "/admin"],
    ["/", "/"],
    ["/a/../b", "/b"],
    ["admin", null],
    ["", null],
    ["/a?b", null],
    ["/a\nb", null],
  ])("%j → %j", (input, expected) => {
    expect(normalizeRulePath(input)).toBe(expected);
  });
});

describe("AccessTable and rawPathOf", () => {
  it("keeps the path as written, for the decision to read every way", async () => {
    const { rawPathOf } = await import("../../src/access/index.js");
    expect(rawPathOf("http://a.test/status//../admin?x=1")).toBe("/status//../admin?x=1");
    expect(rawPathOf("http://a.test")).toBe("/");
    expect(rawPathOf("http://a.test?x")).toBe("/?x");
  });

  it("finds an app by origin, decides deny for an origin no app has", async () => {
    const { AccessTable } = await import("../../src/access/index.js");
    const app = { name: "wiki", origin: "https://wiki.test", createdAt: 0, policy: "one_factor" as const, allowGroups: ["staff"], allowUsers: [] };
    const rule = { id: 7, app: "wiki", origin: "https://wiki.test", createdAt: 0, path: "/open", methods: [], policy: "bypass" as const, groups: [], users: [] };
    const table = new AccessTable([app], [rule]);
    expect(table.decide({ user: null, amr: [], method: "GET", origin: "https://wiki.test", path: "/open/x" })).toMatchObject({ verdict: "allow", ruleId: 7, app });
    expect(table.decide({ user: { username: "bob", groups: [] }, amr: ["pwd"], method: "GET", origin: "https://wiki.test", path: "/" }).verdict).toBe("forbidden");
    expect(table.decide({ user: { username: "bob", groups: ["staff"] }, amr: ["pwd"], method: "GET", origin: "https://other.test", path: "/" })).toMatchObject({ verdict: "deny", app: null });
  });
});

describe("AccessTable.isOpenToAnyLogin", () => {
  it("is true only for one_factor apps naming nobody and without rules", async () => {
    const { AccessTable } = await import("../../src/access/index.js");
    const base = { createdAt: 0, allowGroups: [] as string[], allowUsers: [] as string[] };
    const table = new AccessTable(
      [
        { ...base, name: "open", origin: "https://open.test", policy: "one_factor" },
        { ...base, name: "ruled", origin: "https://ruled.test", policy: "one_factor" },
        { ...base, name: "staff", origin: "https://staff.test", policy: "one_factor", allowGroups: ["staff"] },
        { ...base, name: "mfa", origin: "https://mfa.test", policy: "two_factor" },
        { ...base, name: "public", origin: "https://public.test", policy: "bypass" },
      ],
      [{ id: 1, app: "ruled", origin: "https://ruled.test", createdAt: 0, path: "/admin", methods: [], policy: "deny", groups: [], users: [] }],
    );
    expect(["open", "ruled", "staff", "mfa", "public", "none"].filter((n) => table.isOpenToAnyLogin(`https://${n}.test`))).toEqual(["open"]);
  });
});
