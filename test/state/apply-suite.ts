/**
 * `ssoctl apply` / `export` against a real store, the same suite for each engine:
 * `testApply("sqlite", makeStore)` in that engine's test file.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyState, exportState, planState, readStateFile } from "../../src/state/apply.js";
import type { ApplyOptions } from "../../src/state/sections.js";
import type { Store } from "../../src/store/store.js";

export interface ApplyFixture {
  store: Store;
  /** Another empty database of the same engine. */
  another(): Promise<Store>;
  /** Something that changes whenever any write commits (SQLite's data_version from another connection); null where there is none. */
  writeMarker(): Promise<number | null>;
  cleanup(): Promise<void>;
}

const NOW = 1_800_000_000;
const OPTIONS: ApplyOptions = { prune: false, pruneUsers: false, invitationTtl: 72 * 3600, publicUrl: "https://login.example.com" };
const SECRET = "s".repeat(40);

export const FULL_STATE = `# What a homelab keeps in git.
users:
  - name: alice
    display_name: Alice Liddell
    email: alice@example.com
    groups: [staff, admin]
  - name: bob
    groups: [staff]
  - name: mallory
    disabled: true
apps:
  - name: Wiki
    url: https://wiki.example.com
    allow_groups: [staff]
    rules:
      - path: /admin
        policy: two_factor
        allow_groups: [admin]
      - path: /api
        methods: [POST, DELETE]
        allow_users: [alice]
  - name: Grafana
    url: https://grafana.example.com:8443
    policy: one_factor
  - name: Status
    url: https://status.example.com
    policy: bypass
oidc_clients:
  - name: grafana
    client_id: grafana-0123456789abcdef
    redirect_uris: [https://grafana.example.com:8443/login/generic_oauth]
    app: https://grafana.example.com:8443
    secret_file: grafana.secret
  - name: cli
    redirect_uris: [http://127.0.0.1:9999/callback]
    public: true
`;

function stateFile(text: string, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-state-"));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  const file = path.join(dir, "state.yaml");
  fs.writeFileSync(file, text);
  return file;
}

function fullFile(): string {
  return stateFile(FULL_STATE, { "grafana.secret": `${SECRET}\n` });
}

async function apply(store: Store, file: string, options: Partial<ApplyOptions> = {}): Promise<string[]> {
  return (await applyState(store, readStateFile(file), { ...OPTIONS, ...options }, NOW)).changes;
}

export function testApply(engine: string, makeFixture: () => Promise<ApplyFixture>): void {
  describe(`ssoctl apply / export: ${engine}`, () => {
    let fixture: ApplyFixture;
    let store: Store;
    const opened: Store[] = [];

    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
    });
    afterEach(async () => {
      for (const other of opened.splice(0)) await other.close();
      await fixture.cleanup();
    });

    /** Everything apply may write, for "nothing changed" checks. */
    async function everything(target: Store = store): Promise<unknown> {
      return { state: await exportState(target), audit: (await target.listAudit(10_000)).length, marker: await fixture.writeMarker() };
    }

    it("creates users (with invitation links), apps, rules and clients, one audit row per change, and a second apply writes nothing", async () => {
      const file = fullFile();
      const result = await applyState(store, readStateFile(file), OPTIONS, NOW);
      expect(result.changes).toEqual([
        "+ user alice",
        "+ user bob",
        "+ user mallory (disabled)",
        "+ app Wiki (https://wiki.example.com)",
        "+ rule Wiki /admin",
        "+ rule Wiki /api DELETE,POST",
        "+ app Grafana (https://grafana.example.com:8443)",
        "+ app Status (https://status.example.com)",
        "+ oidc_client grafana",
        "+ oidc_client cli",
      ]);
      expect(result.notes.filter((n) => /^Send (alice|bob) this link .*: https:\/\/login\.example\.com\/invite\/[A-Za-z0-9_-]{43}$/.test(n))).toHaveLength(2);
      // The supplied secret is stored hashed: the file's value is never printed or kept.
      expect(result.notes.join("\n")).not.toContain(SECRET);
      const alice = await store.getUser("alice");
      expect(alice).toMatchObject({ name: "Alice Liddell", email: "alice@example.com", groups: ["admin", "staff"], disabled: false, passwordHash: "" });
      expect((await store.getUser("mallory"))?.disabled).toBe(true);
      const grafana = (await store.listOidcClients()).find((c) => c.name === "grafana")!;
      expect(grafana.clientId).toBe("grafana-0123456789abcdef");
      expect(grafana.secretHash).toMatch(/^[0-9a-f]{64}$/);
      expect(grafana.secretHash).not.toContain(SECRET);
      const audit = await store.listAudit(100);
      expect(audit.length).toBeGreaterThanOrEqual(result.changes.length);

      const before = await everything();
      const again = await applyState(store, readStateFile(file), OPTIONS, NOW + 60);
      expect(again).toEqual({ changes: [], notes: [] });
      expect(await everything()).toEqual(before);
    });

    it("round-trips: export, apply to an empty database, export gives the same bytes", async () => {
      await apply(store, fullFile());
      const exported = await exportState(store);
      expect(exported).toContain("secret_hash:");
      expect(exported).not.toContain(SECRET);
      const empty = await fixture.another();
      opened.push(empty);
      const changes = await apply(empty, stateFile(exported));
      expect(changes.length).toBeGreaterThan(0);
      expect(await exportState(empty)).toBe(exported);
      // And the export applied to its own database changes nothing.
      expect(await apply(store, stateFile(exported))).toEqual([]);
      // One section at a time.
      expect(await exportState(store, ["apps"])).toMatch(/^apps:\n/);
    });

    it("prints a dry run's plan as a diff and writes nothing", async () => {
      await apply(store, fullFile());
      const changed = FULL_STATE.replace("    policy: one_factor\n", "    policy: two_factor\n")
        .replace("groups: [staff]\n  - name: mallory", "groups: [staff, ops]\n  - name: mallory")
        .replace("      - path: /admin\n        policy: two_factor", "      - path: /admin\n        policy: deny")
        .replace("  - name: Status\n    url: https://status.example.com\n    policy: bypass\n", "  - name: Docs\n    url: https://docs.example.com\n");
      const file = stateFile(changed, { "grafana.secret": SECRET });
      const before = await everything();
      const plan = (await planState(store, readStateFile(file), { ...OPTIONS, prune: true })).map((c) => c.text);
      expect(plan).toEqual([
        "~ user bob: groups [staff] → [ops, staff]",
        expect.stringMatching(/^~ rule \d+ \(Wiki \/admin\): policy two_factor → deny$/),
        "~ app Grafana: policy one_factor → two_factor",
        "+ app Docs (https://docs.example.com)",
        "- app Status (https://status.example.com)",
      ]);
      expect(await everything()).toEqual(before);
      const applied = await apply(store, file, { prune: true });
      expect(applied).toHaveLength(5);
      expect((await store.listApps()).map((a) => a.name).sort()).toEqual(["Docs", "Grafana", "Wiki"]);
      expect((await store.listRules("https://wiki.example.com")).find((r) => r.path === "/admin")?.policy).toBe("deny");
    });

    it("removes users only with --prune-users, rules and clients only with --prune", async () => {
      await apply(store, fullFile());
      const fewer = stateFile("users:\n  - name: alice\n    display_name: Alice Liddell\n    email: alice@example.com\n    groups: [staff, admin]\napps:\n  - name: Wiki\n    url: https://wiki.example.com\n    allow_groups: [staff]\noidc_clients: []\n");
      expect(await apply(store, fewer)).toEqual([]);
      const pruned = await apply(store, fewer, { prune: true });
      expect(pruned).toEqual([
        expect.stringMatching(/^- rule \d+ \(Wiki \/admin\)$/),
        expect.stringMatching(/^- rule \d+ \(Wiki \/api DELETE,POST\)$/),
        "- app Grafana (https://grafana.example.com:8443)",
        "- app Status (https://status.example.com)",
        "- oidc_client cli",
        "- oidc_client grafana",
      ]);
      expect((await store.listUsers()).map((u) => u.username).sort()).toEqual(["alice", "bob", "mallory"]);
      expect(await apply(store, fewer, { pruneUsers: true })).toEqual(["- user bob", "- user mallory"]);
    });

    it("changes nothing at all when one change fails half-way (one transaction)", async () => {
      await store.addApp({ name: "Wiki", origin: "https://old-wiki.example.com" }, NOW);
      const before = await everything();
      // The user would be added first; the app's name is taken, so its insert fails.
      const file = stateFile("users:\n  - name: zed\napps:\n  - name: Wiki\n    url: https://wiki.example.com\n");
      await expect(apply(store, file)).rejects.toThrow(/already registered/);
      expect(await store.getUser("zed")).toBeNull();
      expect(await everything()).toEqual(before);
    });

    describe("bad input: one error naming the line, nothing changed", () => {
      const cases: Array<[string, string, RegExp, Record<string, string>?]> = [
        ["duplicate user names (ignoring case)", "users:\n  - name: alice\n  - name: Alice\n", /state\.yaml:3: users\.1\.name: a second users entry for "alice" \(the first is at line 2\)/],
        ["duplicate apps", "apps:\n  - name: A\n    url: https://a.example.com\n  - name: B\n    url: https://a.example.com/\n", /state\.yaml:5: apps\.1\.url: a second apps entry for "https:\/\/a\.example\.com"/],
        ["an app URL with a path", "apps:\n  - name: Wiki\n    url: https://wiki.example.com/wiki\n", /state\.yaml:3: apps\.0\.url: "https:\/\/wiki\.example\.com\/wiki" has a path; apps are registered by origin/],
        ["a client naming an app neither in the file nor the database", "oidc_clients:\n  - name: x\n    redirect_uris: [https://x.example.com/cb]\n    app: https://nowhere.example.com\n    public: true\n", /state\.yaml:4: oidc_clients\.0\.app: https:\/\/nowhere\.example\.com is neither in the file's apps nor registered/],
        ["a group with a space", "users:\n  - name: bob\n    groups: [staff, \"the admins\"]\n", /state\.yaml:3: users\.0\.groups: group "the admins" may contain only letters, digits/],
        ["a rule's group with a comma", "apps:\n  - name: W\n    url: https://w.example.com\n    rules:\n      - path: /x\n        allow_groups: [\"a,b\"]\n", /state\.yaml:5: apps\.0\.rules\.0: --allow-group "a,b": a group may contain only/],
        ["a client secret shorter than 32 bytes", "oidc_clients:\n  - name: x\n    redirect_uris: [https://x.example.com/cb]\n    secret_file: short.secret\n", /state\.yaml:4: oidc_clients\.0\.secret_file: a client secret must be at least 32 bytes/, { "short.secret": "tooshort\n" }],
        ["a secret variable that is not set", "oidc_clients:\n  - name: x\n    redirect_uris: [https://x.example.com/cb]\n    secret_env: SSOCTL_TEST_UNSET_SECRET\n", /oidc_clients\.0\.secret_env: the environment variable SSOCTL_TEST_UNSET_SECRET is not set/],
        ["an unknown key", "users:\n  - name: bob\n    password: hunter22\n", /state\.yaml:3: unknown key "users\.0\.password"/],
        ["an unknown section", "userz:\n  - name: bob\n", /state\.yaml:1: unknown key "userz"; sections are/],
        ["a bad policy", "apps:\n  - name: W\n    url: https://w.example.com\n    policy: maybe\n", /state\.yaml:4: apps\.0\.policy: .*expected one of "one_factor"/],
        ["a bad username", "users:\n  - name: \"bob smith\"\n", /state\.yaml:2: users\.0\.name: /],
        ["a reserved username", "users:\n  - name: anonymous\n", /state\.yaml:2: users\.0\.name: the username "anonymous" is reserved/],
        ["a rule path that is not a path", "apps:\n  - name: W\n    url: https://w.example.com\n    rules:\n      - path: admin\n", /state\.yaml:5: apps\.0\.rules\.0: --path "admin" must be a path starting with "\/"/],
        ["YAML aliases past the limit", `users:\n  - &u {name: a}\nx: &a [${"*u, ".repeat(10)}]\ny: &b [${"*a, ".repeat(10)}]\nz: [${"*b, ".repeat(100)}]\n`, /YAML aliases expand past the limit of 100/],
      ];
      it.each(cases)("%s", async (_what, text, message, files) => {
        await apply(store, fullFile());
        const before = await everything();
        const file = stateFile(text, files ?? {});
        await expect((async () => apply(store, file))()).rejects.toThrow(message);
        expect(await everything()).toEqual(before);
      });
    });
  });
}
