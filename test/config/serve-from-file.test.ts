/** A login server started from a config file and the environment alone, and `doctor` checking it with the same file. Needs `tsc -p .` first. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { showOnFailure } from "../support/output.js";
import { request } from "undici";
import { SSOCTL_BIN, fetchPage, makeDataDir, runCli, type TestDataDir } from "../support/server.js";

const ALICE = { username: "alice", password: "correct horse battery" };
const APP = "http://127.0.0.1:9";

/** A port nothing listens on now (the kernel's choice), for a server whose port a file must name. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SSOCTL_DEBUG: "", ...extra };
  for (const name of ["SSOCTL_DATA_DIR", "SSOCTL_DATABASE_URL", "SSOCTL_PORT", "SSOCTL_PUBLIC_URL", "SSOCTL_CONFIG"]) if (!(name in extra)) delete env[name];
  return env;
}

describe("ssoctl serve from a config file", () => {
  let data: TestDataDir;
  let file: string;
  let port: number;

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    port = await freePort();
    file = path.join(path.dirname(data.dataDir.dir), "ssoctl.yaml");
    fs.writeFileSync(
      file,
      ["server:", "  host: 127.0.0.1", "  cookie_name: from_file", "  title: Config <File>", "  session_ttl: 2h", "storage:", "  data_dir: data", ""].join("\n"),
    );
  });
  afterAll(() => data.cleanup());

  it("runs with no flags at all: the file's settings, the environment's port, and doctor --config agrees", async () => {
    const env = cleanEnv({ SSOCTL_CONFIG: file, SSOCTL_PORT: String(port) });
    const child = spawn(process.execPath, [SSOCTL_BIN, "serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    showOnFailure(`ssoctl serve (pid ${child.pid})`, () => stderr);
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on("data", () => stderr.includes("login server listening on") && resolve());
        void exited.then(() => reject(new Error(`serve exited: ${stderr}`)));
      });
      const url = `http://127.0.0.1:${port}`;
      expect(stderr).toContain(`listening on ${url}`);
      expect((await fetchPage(`${url}/healthz`)).status).toBe(200);
      const page = await fetchPage(`${url}/login?rd=${encodeURIComponent(`${APP}/`)}`);
      expect(page.body).toContain("Config &lt;File&gt;");
      const form = await request(`${url}/login?rd=${encodeURIComponent(`${APP}/`)}`);
      const html = await form.body.text();
      const posted = await request(`${url}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: String(form.headers["set-cookie"]).split(";")[0]!, origin: url },
        body: new URLSearchParams({ rd: `${APP}/`, csrf: /name="csrf" value="([^"]+)"/.exec(html)![1]!, ...ALICE }).toString(),
      });
      await posted.body.dump();
      expect(posted.statusCode).toBe(303);
      expect(String(posted.headers["set-cookie"])).toMatch(/from_file=[^;]+;.*Max-Age=7200/);

      // The same file and environment, no flags: doctor finds the data and the running server.
      const doctor = await runCli(["doctor", "--json", "--config", file], { env: cleanEnv({ SSOCTL_PORT: String(port) }) });
      const checks = JSON.parse(doctor.stdout) as Array<{ check: string; status: string; detail: string }>;
      expect(checks.find((c) => c.check === "login server")).toMatchObject({ status: "pass", detail: expect.stringContaining(`${url}/healthz answers 200`) });
      expect(checks.find((c) => c.check === "config file")).toMatchObject({ status: "pass", detail: `${file} is valid` });
      expect(checks.filter((c) => c.status === "fail")).toEqual([]);
      expect(doctor.code).toBe(0);
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
    // Stopped: doctor says nothing answers there, as a warning.
    const after = await runCli(["doctor", "--json", "--config", file], { env: cleanEnv({ SSOCTL_PORT: String(port) }) });
    const checks = JSON.parse(after.stdout) as Array<{ check: string; status: string; detail: string }>;
    expect(checks.find((c) => c.check === "login server")).toMatchObject({ status: "warn", detail: expect.stringContaining("nothing answers") });
  });

  it("SIGHUP applies live settings from the file at once, names those that need a restart, and keeps running on a bad file", async () => {
    const reloadFile = path.join(path.dirname(file), "reload.yaml");
    fs.writeFileSync(reloadFile, "server:\n  port: 0\n  title: Before\nstorage:\n  data_dir: data\n");
    const child = spawn(process.execPath, [SSOCTL_BIN, "serve", "--config", reloadFile], { env: cleanEnv({}), stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    showOnFailure(`ssoctl serve (pid ${child.pid})`, () => stderr + stdout);
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    const events = (): Array<Record<string, unknown>> => stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const until = async (check: () => boolean): Promise<void> => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 25));
    };
    try {
      await until(() => events().some((e) => e.event === "server.started"));
      const url = String(events().find((e) => e.event === "server.started")!.url);
      expect((await fetchPage(`${url}/metrics`)).status).toBe(200);

      fs.writeFileSync(reloadFile, "server:\n  port: 0\n  title: After\n  metrics_allow: [10.0.0.0/8]\nstorage:\n  data_dir: data\n");
      child.kill("SIGHUP");
      await until(() => events().some((e) => e.event === "config.reloaded"));
      expect(events().find((e) => e.event === "config.reloaded")).toMatchObject({ changed: ["server.metrics_allow"], needsRestart: ["server.title"] });
      expect((await fetchPage(`${url}/metrics`)).status).toBe(403);
      // The title needs a restart: the pages still say the old one.
      expect((await fetchPage(`${url}/login`)).body).toContain("Before");

      fs.writeFileSync(reloadFile, "server:\n  port: 0\n  metrics_allow: [not-an-address]\n");
      child.kill("SIGHUP");
      await until(() => events().some((e) => e.event === "config.reload_failed"));
      expect(String(events().find((e) => e.event === "config.reload_failed")!.error)).toMatch(/reload\.yaml:3: server\.metrics_allow: "not-an-address" is not an IP address/);
      expect((await fetchPage(`${url}/healthz`)).status).toBe(200);
      expect((await fetchPage(`${url}/metrics`)).status).toBe(403);
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
    expect(events().map((e) => e.event)).toContain("server.stopping");
  });
});
