import { beforeAll, describe, expect, it } from "vitest";
import { copyDataDir, expectError, expectOk, initDataDir, query, snapshot, ssoctl } from "./helpers.js";

let template: string;

beforeAll(() => {
  template = initDataDir();
});

function apps(dir: string): { name: string; origin: string }[] {
  return query(dir, "SELECT name, origin FROM apps ORDER BY name");
}

describe("ssoctl app add", () => {
  it("registers an origin, named after its host by default", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["app", "add", "https://app.example.com", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toBe("Added app app.example.com: https://app.example.com\n");
    expect(apps(dir)).toEqual([{ name: "app.example.com", origin: "https://app.example.com" }]);
    expect(query<{ event: string }>(dir, "SELECT event FROM audit")).toEqual([{ event: "app.added" }]);
  });

  it("takes --name and keeps a non-default port", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "http://localhost:3000/", "--name", "Local dev", "--data-dir", dir]));
    expect(apps(dir)).toEqual([{ name: "Local dev", origin: "http://localhost:3000" }]);
  });

  it("reduces a URL with a path to its origin and says so", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["app", "add", "https://wiki.example.com/some/page?x=1", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toMatch(/https:\/\/wiki\.example\.com \(registered by origin; the path of https:\/\/wiki\.example\.com\/some\/page\?x=1 is not part of it\)/);
    expect(apps(dir)).toEqual([{ name: "wiki.example.com", origin: "https://wiki.example.com" }]);
  });

  it("does not claim a path was dropped when the URL had none", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["app", "add", "HTTPS://App.Example.com:443/", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toBe("Added app app.example.com: https://app.example.com\n");
  });

  it.each([
    ["javascript:", "javascript:alert(1)", /not an absolute http:\/\/ or https:\/\/ URL/],
    ["a bare word", "wiki", /not an absolute http:\/\/ or https:\/\/ URL/],
    ["a host without a scheme", "app.example.com", /not an absolute http/],
    ["ftp:", "ftp://files.example.com", /not an absolute http/],
    ["userinfo", "https://admin@app.example.com", /user name or password/],
    ["a backslash", "https://app.example.com\\@evil.net", /backslashes/],
  ])("refuses %s and changes nothing", (_label, url, message) => {
    const dir = copyDataDir(template);
    const before = snapshot(dir);
    expectError(ssoctl(["app", "add", url, "--data-dir", dir]), 1, message);
    expect(snapshot(dir)).toEqual(before);
  });

  it("refuses the same origin twice, even written differently", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "https://app.example.com", "--data-dir", dir]));
    const before = snapshot(dir);
    expectError(ssoctl(["app", "add", "HTTPS://APP.example.com:443/x", "--name", "other", "--data-dir", dir]), 1, /already registered/);
    expect(snapshot(dir)).toEqual(before);
  });

  it("needs a URL (usage error)", () => {
    expectError(ssoctl(["app", "add", "--data-dir", copyDataDir(template)]), 2, /missing required argument/);
  });
});

describe("ssoctl app list", () => {
  it("prints a table and a JSON array", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "https://wiki.example.com", "--name", "wiki", "--data-dir", dir]));
    expectOk(ssoctl(["app", "add", "https://grafana.example.com:8443", "--name", "grafana", "--data-dir", dir]));
    const table = ssoctl(["app", "list", "--data-dir", dir]);
    expectOk(table);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ORIGIN\s+POLICY\s+ALLOWED\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
      ["grafana", "https://grafana.example.com:8443"],
      ["wiki", "https://wiki.example.com"],
    ]);
    expect(lines[1]!.indexOf("https://")).toBe(lines[0]!.indexOf("ORIGIN"));
    const json = ssoctl(["app", "list", "--json", "--data-dir", dir]);
    expectOk(json);
    expect(JSON.parse(json.stdout)).toEqual([
      { name: "grafana", origin: "https://grafana.example.com:8443", created: expect.stringMatching(/Z$/), policy: "one_factor", allowGroups: [], allowUsers: [] },
      { name: "wiki", origin: "https://wiki.example.com", created: expect.stringMatching(/Z$/), policy: "one_factor", allowGroups: [], allowUsers: [] },
    ]);
  });

  it("prints [] when nothing is registered", () => {
    const result = ssoctl(["app", "list", "--json", "--data-dir", template]);
    expectOk(result);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });
});

describe("ssoctl app remove", () => {
  it("removes by URL (any path) or by name", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "https://wiki.example.com", "--name", "wiki", "--data-dir", dir]));
    expectOk(ssoctl(["app", "add", "https://grafana.example.com", "--name", "grafana", "--data-dir", dir]));
    const byUrl = ssoctl(["app", "remove", "https://wiki.example.com/page", "--data-dir", dir]);
    expectOk(byUrl);
    expect(byUrl.stdout).toBe("Removed app wiki: https://wiki.example.com\n");
    expectOk(ssoctl(["app", "remove", "grafana", "--data-dir", dir]));
    expect(apps(dir)).toEqual([]);
  });

  it("refuses an app that is not registered and changes nothing", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "https://wiki.example.com", "--data-dir", dir]));
    const before = snapshot(dir);
    expectError(ssoctl(["app", "remove", "https://other.example.com", "--data-dir", dir]), 1, /no app registered as.*ssoctl app list/);
    expectError(ssoctl(["app", "remove", "nothing", "--data-dir", dir]), 1, /no app registered as "nothing"/);
    expect(snapshot(dir)).toEqual(before);
  });
});
