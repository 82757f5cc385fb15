/** `ssoctl apply` / `export` on SQLite: the shared suite, and the commands as a user runs them. */
import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { expectOk, initDataDir, query, ssoctl } from "../cli/helpers.js";
import { FULL_STATE, testApply } from "./apply-suite.js";

function newDatabase(): { file: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-apply-"));
  return { file: path.join(dir, "ssoctl.db"), dir };
}

testApply("sqlite", async () => {
  const made = [newDatabase()];
  const store = openSqliteStore(made[0]!.file, { create: true });
  // Another connection sees data_version change whenever anyone else commits a write.
  const watcher = new Database(made[0]!.file, { readonly: true });
  const others: string[] = [];
  return {
    store,
    another: async () => {
      const next = newDatabase();
      made.push(next);
      others.push(next.file);
      return openSqliteStore(next.file, { create: true });
    },
    writeMarker: async () => Number(watcher.pragma("data_version", { simple: true })),
    cleanup: async () => {
      watcher.close();
      await store.close();
      for (const m of made) fs.rmSync(m.dir, { recursive: true, force: true });
    },
  };
});

describe("ssoctl apply and export, as commands", () => {
  it("prints the plan, the invitation links and 'no changes' the second time; export prints what apply reads", { timeout: 180_000 }, () => {
    const dir = initDataDir();
    const stateDir = path.dirname(dir);
    const file = path.join(stateDir, "state.yaml");
    fs.writeFileSync(file, FULL_STATE);
    fs.writeFileSync(path.join(stateDir, "grafana.secret"), `${"s".repeat(40)}\n`);

    const dry = ssoctl(["apply", file, "--dry-run", "-d", dir]);
    expectOk(dry);
    expect(dry.stdout).toContain("+ app Wiki (https://wiki.example.com)\n");
    expect(dry.stdout).toMatch(/Dry run: 10 change\(s\) planned; nothing written\.\n$/);
    expect(query(dir, "SELECT count(*) AS n FROM audit")).toEqual([{ n: 0 }]);

    const first = ssoctl(["apply", file, "-d", dir], { env: { SSOCTL_PUBLIC_URL: "https://login.example.com" } });
    expectOk(first);
    expect(first.stdout).toMatch(/^\+ user alice\n/);
    expect(first.stdout).toMatch(/Send alice this link to set a password \(it works once\): https:\/\/login\.example\.com\/invite\/\S{43}\n/);
    expect(first.stdout).toMatch(/Applied 10 change\(s\) in one transaction/);
    const audit = query<{ n: number }>(dir, "SELECT count(*) AS n FROM audit")[0]!.n;

    const second = ssoctl(["apply", file, "-d", dir]);
    expectOk(second);
    expect(second.stdout).toBe("No changes.\n");
    expect(query(dir, "SELECT count(*) AS n FROM audit")).toEqual([{ n: audit }]);

    const exported = ssoctl(["export", "-d", dir]);
    expectOk(exported);
    expect(exported.stdout).toMatch(/^users:\n  - name: alice\n    display_name: Alice Liddell\n/);
    const users = ssoctl(["export", "--section", "users", "-d", dir]);
    expect(users.stdout).not.toContain("apps:");
    fs.writeFileSync(path.join(stateDir, "exported.yaml"), exported.stdout);
    const other = initDataDir();
    expectOk(ssoctl(["apply", path.join(stateDir, "exported.yaml"), "-d", other]));
    expect(ssoctl(["export", "-d", other]).stdout).toBe(exported.stdout);
  });

  it("refuses a bad file with one line naming it, exit 1, and changes nothing", () => {
    const dir = initDataDir();
    const file = path.join(path.dirname(dir), "bad.yaml");
    fs.writeFileSync(file, "users:\n  - name: bob\n    groups: [\"two words\"]\n");
    const result = ssoctl(["apply", file, "-d", dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ssoctl: .*bad\.yaml:3: users\.0\.groups: group "two words" may contain only/);
    expect(query(dir, "SELECT count(*) AS n FROM users")).toEqual([{ n: 0 }]);
  });
});
