/** `ssoctl serve --database` as a user runs it. Needs `tsc -p .` first. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase } from "../support/postgres-server.js";
import { SSOCTL_BIN, fetchPage, signIn } from "../support/server.js";

const APP = "http://app.test";
const ALICE = { username: "alice", password: "correct horse battery" };
const PASSWORD_IN_URL = "Pg-Secret-4711";

let cluster: TestPostgres;

beforeAll(async () => {
  cluster = await startTestPostgres();
});

afterAll(() => {
  cluster?.destroy();
});

describe("ssoctl serve --database", () => {
  it("serves sign-ins from the database, keeps the URL's password out of ps and its output, and stops on SIGTERM", async () => {
    const url = await cluster.createDatabase();
    await initPostgresDatabase(url, { users: [ALICE], apps: [APP] });
    // The test cluster trusts local connections, so any password is accepted: only where it shows matters here.
    const withPassword = url.replace("postgres@", `postgres:${PASSWORD_IN_URL}@`);
    const child = spawn(process.execPath, [SSOCTL_BIN, "serve", "--port", "0", "--database", withPassword], { env: { ...process.env, SSOCTL_DEBUG: "" } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      await expect.poll(() => /listening on (http:\/\/\S+)/.exec(output)?.[1], { timeout: 15_000, interval: 20 }).toBeDefined();
      const serverUrl = /listening on (http:\/\/\S+)/.exec(output)![1]!;
      expect(output).toMatch(/database postgres@socket \S+\/ssoctl_test_\w+\); Ctrl-C stops it/);
      const cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8");
      expect(cmdline).toContain("--database");
      expect(cmdline).not.toContain(PASSWORD_IN_URL);
      const { status, cookie } = await signIn({ url: serverUrl }, ALICE, { rd: `${APP}/` });
      expect(status).toBe(303);
      const auth = await fetchPage(`${serverUrl}/auth/request`, {
        headers: { cookie: `ssoctl=${cookie}`, "x-original-url": `${APP}/`, "x-original-method": "GET" },
      });
      expect(auth.status).toBe(200);
      expect((await fetchPage(`${serverUrl}/healthz`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(output).not.toContain(PASSWORD_IN_URL);
  });

  it("refuses to start on a database that is not there, in one line, without the password", async () => {
    const child = spawn(process.execPath, [SSOCTL_BIN, "serve", "--port", "0"], {
      env: { ...process.env, SSOCTL_DEBUG: "", SSOCTL_DATABASE_URL: cluster.url("missing_db").replace("postgres@", `postgres:${PASSWORD_IN_URL}@`) },
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^ssoctl: the database "missing_db" does not exist on socket [^\n]+\n$/);
    expect(stderr).not.toContain(PASSWORD_IN_URL);
  });
});
