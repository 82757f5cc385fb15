/** README's "Run it as a service" config file and state file, as written there. Needs `tsc -p .` first. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { expectOk, initDataDir, query, ssoctl, tempDir } from "../cli/helpers.js";
import { readmeSectionBlock } from "../support/readme-section.js";
import { SSOCTL_BIN, fetchPage } from "../support/server.js";

const SECTION = "Run it as a service";

describe("README: Run it as a service", () => {
  it("its config file is valid, and a server starts from it (the data directory and port from the environment)", async () => {
    const text = readmeSectionBlock(SECTION, "yaml", "public_url:");
    const file = path.join(tempDir(), "ssoctl.yaml");
    fs.writeFileSync(file, text);
    const checked = ssoctl(["config", "check", file]);
    expect(checked).toMatchObject({ code: 0, stdout: `${file}: valid\n` });

    const dir = initDataDir();
    const env: NodeJS.ProcessEnv = { ...process.env, SSOCTL_CONFIG: file, SSOCTL_DATA_DIR: dir, SSOCTL_PORT: "0", SSOCTL_DEBUG: "" };
    delete env.SSOCTL_DATABASE_URL;
    const child = spawn(process.execPath, [SSOCTL_BIN, "serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      while (!stdout.includes('"server.started"')) {
        if (child.exitCode !== null) throw new Error("serve exited");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const started = JSON.parse(stdout.split("\n").find((line) => line.includes('"server.started"'))!) as { url: string; publicUrl: string };
      expect(started.publicUrl).toBe("https://login.example.com");
      expect((await fetchPage(`${started.url}/healthz`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  });

  it("its state file applies, a second time with no changes, and its commands' plan reads as shown", () => {
    const text = readmeSectionBlock(SECTION, "yaml", "oidc_clients:");
    const dir = initDataDir();
    const stateDir = tempDir();
    const file = path.join(stateDir, "state.yaml");
    fs.writeFileSync(file, text);
    fs.writeFileSync(path.join(stateDir, "grafana.secret"), "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==\n");
    const dry = ssoctl(["apply", file, "--dry-run", "-d", dir]);
    expectOk(dry);
    expect(dry.stdout).toContain("+ app Wiki (https://wiki.example.com)\n");
    expectOk(ssoctl(["apply", file, "-d", dir]));
    expect(query(dir, "SELECT username FROM users")).toEqual([{ username: "alice" }]);
    expect(ssoctl(["apply", file, "-d", dir]).stdout).toBe("No changes.\n");
  });
});
