/** `ssoctl backup`: a consistent copy taken while the real server signs people in, restored and served. Needs `tsc -p .` first. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveDataDir } from "../../src/data-dir.js";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { BIN, expectError, mode, PASSWORD, ssoctl, type Result } from "../cli/helpers.js";

let data: TestDataDir;
let server: RunningServer;
let out: string;

beforeAll(async () => {
  data = await makeDataDir({ users: [{ username: "alice", password: PASSWORD }], apps: ["https://wiki.example.com"] });
  server = await startServer(data);
  // The provider loads, and makes its signing keys, on its first use: a server that has served an
  // OpenID Connect request has oidc-keys.json for the backup to carry.
  await server.login.oidc.endpoint();
  out = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-backup-"));
});

afterAll(async () => {
  await server?.close();
  data?.cleanup();
  fs.rmSync(out, { recursive: true, force: true });
});

/** The CLI as a child process without blocking this process's event loop (the server runs here). */
function ssoctlAsync(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SSOCTL_DATA_DIR: undefined } as NodeJS.ProcessEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("ssoctl backup", () => {
  it("copies the database while the server is writing, with the key beside it, 0600; the restored copy serves the same users and logins", async () => {
    // Users added and sign-ins made while the copy is taken: the server and the CLI write all along.
    let writing = true;
    const writes = (async () => {
      let n = 0;
      while (writing) {
        await server.store.createUser({ username: `during-${n++}`, name: "", email: "", groups: [], passwordHash: "$argon2id$x" }, 1);
        await new Promise((r) => setTimeout(r, 2));
      }
      return n;
    })();
    const before = await signIn(server, { username: "alice", password: PASSWORD });
    expect(before.status).toBe(303);
    const target = path.join(out, "ssoctl-backup.db");
    const result = await ssoctlAsync(["backup", target, "-d", data.dataDir.dir]);
    writing = false;
    await writes;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Backed up ${data.dataDir.dbPath} to ${target}`);
    expect(result.stdout).toContain(`Key file: ${target}.secret.key`);
    expect(mode(target)).toBe(0o600);
    expect(mode(`${target}.secret.key`)).toBe(0o600);
    expect(fs.readFileSync(`${target}.secret.key`, "utf8")).toBe(fs.readFileSync(data.dataDir.keyPath, "utf8"));
    // One self-contained file: no WAL left beside it.
    expect(fs.readdirSync(out).sort()).toEqual(["ssoctl-backup.db", "ssoctl-backup.db.oidc-keys.json", "ssoctl-backup.db.secret.key"]);
    // The OpenID Connect signing keys come along, 0600.
    expect(mode(`${target}.oidc-keys.json`)).toBe(0o600);
    expect(fs.readFileSync(`${target}.oidc-keys.json`, "utf8")).toBe(fs.readFileSync(path.join(data.dataDir.dir, "oidc-keys.json"), "utf8"));

    // Restore as README says: the files into a new data directory.
    const restoredDir = path.join(out, "restored");
    fs.mkdirSync(restoredDir, { mode: 0o700 });
    fs.copyFileSync(target, path.join(restoredDir, "ssoctl.db"));
    fs.copyFileSync(`${target}.secret.key`, path.join(restoredDir, "secret.key"));
    fs.copyFileSync(`${target}.oidc-keys.json`, path.join(restoredDir, "oidc-keys.json"));
    const listed = ssoctl(["user", "list", "--json", "-d", restoredDir]);
    expect(listed.code).toBe(0);
    const names = (JSON.parse(listed.stdout) as Array<{ username: string }>).map((u) => u.username);
    expect(names).toContain("alice");
    // One moment's state: the users added during the copy are a gapless run from the first.
    const during = names.filter((n) => n.startsWith("during-")).map((n) => Number(n.slice(7))).sort((a, b) => a - b);
    expect(during).toEqual(during.map((_n, i) => i));
    // The session of the sign-in made before the backup is in the copy.
    const sessions = ssoctl(["session", "list", "--json", "-d", restoredDir]);
    expect(sessions.code).toBe(0);
    expect(JSON.parse(sessions.stdout)).toEqual([expect.objectContaining({ username: "alice" })]);
    const restored: TestDataDir = { dataDir: resolveDataDir(restoredDir), secret: data.secret, cleanup: () => {} };
    const again = await startServer(restored);
    try {
      const after = await signIn(again, { username: "alice", password: PASSWORD });
      expect(after.status).toBe(303);
    } finally {
      await again.close();
    }
  });

  it("refuses to overwrite the database copy or a key file, and changes nothing", async () => {
    const target = path.join(out, "existing.db");
    fs.writeFileSync(target, "keep me");
    expectError(ssoctl(["backup", target, "-d", data.dataDir.dir]), 1, /existing\.db already exists; backup never overwrites/);
    expect(fs.readFileSync(target, "utf8")).toBe("keep me");

    const second = path.join(out, "second.db");
    fs.writeFileSync(`${second}.secret.key`, "old key");
    expectError(ssoctl(["backup", second, "-d", data.dataDir.dir]), 1, /second\.db\.secret\.key already exists/);
    expect(fs.existsSync(second)).toBe(false);
    expect(fs.readFileSync(`${second}.secret.key`, "utf8")).toBe("old key");
  });

  it("says what to do instead with PostgreSQL, and when there is no database", () => {
    expectError(ssoctl(["backup", path.join(out, "pg.db")], { env: { SSOCTL_DATABASE_URL: "postgres://u@127.0.0.1/db" } }), 2, /pg_dump/);
    expectError(ssoctl(["backup", path.join(out, "none.db"), "-d", path.join(out, "nowhere")]), 1, /no database at .*ssoctl init/);
    expect(fs.existsSync(path.join(out, "none.db"))).toBe(false);
  });
});
