/** What an idle server holds and when it answers: the port opens ready, unused parts load at their first use. Needs `tsc -p .` first. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as net from "node:net";
import { SSOCTL_BIN, makeDataDir, runCli, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { showOnFailure } from "../support/output.js";

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("start-up", () => {
  let data: TestDataDir;
  beforeAll(async () => {
    data = await makeDataDir({ users: [{ username: "alice", password: "correct horse" }] });
  });
  afterAll(() => data.cleanup());

  it("opens its port only when ready: a health check polling from launch sees no answer but 200", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [SSOCTL_BIN, "serve", "--port", String(port), "-d", data.dataDir.dir], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    showOnFailure(`ssoctl serve (pid ${child.pid})`, () => stderr);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const seen = new Set<number>();
      for (let tries = 0; tries < 3000 && !seen.has(200); tries += 1) {
        try {
          seen.add((await fetch(`http://127.0.0.1:${port}/healthz`)).status);
        } catch {
          // Nothing listens yet: a supervisor's check sees "connection refused", then 200.
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      expect([...seen]).toEqual([200]);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});

describe("what an idle server loads", () => {
  let data: TestDataDir;
  let server: RunningServer;
  beforeAll(async () => {
    data = await makeDataDir({ users: [{ username: "alice", password: "correct horse" }] });
    server = await startServer(data);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  it("loads the OpenID provider at its first request, and serves a client the CLI adds while it runs", async () => {
    expect(server.login.oidc.loaded).toBeNull();
    const added = await runCli(["client", "add", "wiki", "--redirect-uri", "https://wiki.example.com/cb", "-d", data.dataDir.dir, "--json"]);
    expect(added.code).toBe(0);
    const discovery = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { issuer: string }).issuer).toBe(server.url);
    expect(server.login.oidc.loaded).not.toBeNull();
    const clientId = (JSON.parse(added.stdout) as { clientId: string }).clientId;
    const challenge = createHash("sha256").update("a verifier of at least forty-three characters, for PKCE").digest("base64url");
    const query = new URLSearchParams({ client_id: clientId, response_type: "code", scope: "openid", redirect_uri: "https://wiki.example.com/cb", code_challenge: challenge, code_challenge_method: "S256", state: "s", nonce: "n" });
    const auth = await fetch(`${server.url}/oidc/auth?${query}`, { redirect: "manual" });
    // The provider knows the new client: it starts an interaction (ssoctl's login) rather than refusing it.
    expect(auth.status).toBe(303);
    expect(auth.headers.get("location")).toMatch(/\/login\/oidc\//);
  });
});
