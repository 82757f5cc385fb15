/**
 * A directory as the source of users, against a real OpenLDAP slapd with a generated directory:
 * OpenLDAP-style users with memberOf, Active-Directory-style accounts found by sAMAccountName with
 * groups from a group search, filter escaping, second factors kept in ssoctl, a deleted account's
 * live session ended by the background re-check, and the directory going down.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { ADMIN_DN, ADMIN_PASSWORD, CORP, startSlapd, type RunningSlapd } from "./support/slapd.js";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { directoryConfigOf } from "../../src/directory/config.js";
import type { DirectoryConfig } from "../../src/server/config.js";
import { runSsoctl } from "./support/cli.js";
import { readmeBlock } from "./support/readme.js";
import { makeCertificate } from "./support/ldap-tools.js";
import { tempDir } from "./support/processes.js";

const APP = "https://app.corp.test";

let slapd: RunningSlapd;
let data: TestDataDir;
let server: RunningServer;
let adData: TestDataDir;
let adServer: RunningServer;

let dir: string;

/**
 * README's directory section for `heading`, as written, with the test's slapd (its URL, CA file,
 * password file and base DN) in place of the README's, and the re-check at 1 s.
 */
function readmeDirectory(heading: string): { config: DirectoryConfig; file: string } {
  const block = readmeBlock(heading, "yaml", "directory:");
  for (const documented of ["ldap://ldap.corp.example:389", "/etc/ssoctl/corp-ca.pem", "/etc/ssoctl/directory-password", "dc=corp,dc=example"]) expect(block).toContain(documented);
  const text = block
    .replaceAll("ldap://ldap.corp.example:389", slapd.url)
    .replaceAll("/etc/ssoctl/corp-ca.pem", path.join(dir, "server.crt"))
    .replaceAll("/etc/ssoctl/directory-password", path.join(dir, "directory-password"))
    .replaceAll("dc=corp,dc=example", CORP)
    .replace(/^ {2}recheck: .*$/m, "  recheck: 1s");
  const file = path.join(dir, `${heading.replace(/\W+/g, "-")}.yaml`);
  fs.writeFileSync(file, text);
  return { config: directoryConfigOf((parse(text) as { directory: unknown }).directory, {}), file };
}

let corpFile: string;

beforeAll(async () => {
  dir = tempDir("directory");
  const tls = await makeCertificate(dir);
  fs.writeFileSync(path.join(dir, "directory-password"), `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
  slapd = await startSlapd([
    { uid: "alice", password: "alice-dir-pw", cn: "Alice Dir", mail: "alice@corp.test", groups: ["admins", "staff"] },
    { uid: "bob", password: "bob-dir-pw", cn: "Bob Dir", groups: ["staff"] },
    { uid: "gone", password: "gone-dir-pw", cn: "Gone Soon", groups: ["staff"] },
    { uid: "frank", password: "frank-dir-pw", cn: "Frank Factor" },
    { uid: "dana", password: "dana-ad-pw", cn: "Dana Ad", mail: "dana@corp.test", groups: ["ops"], ad: { disabled: false } },
    { uid: "eve", password: "eve-ad-pw", cn: "Eve Ad", ad: { disabled: true } },
  ], { tls });
  const corp = readmeDirectory("OpenLDAP");
  corpFile = corp.file;
  expect(corp.config.options).toMatchObject({ starttls: true, bindDn: ADMIN_DN, bindPassword: ADMIN_PASSWORD });
  data = await makeDataDir({ users: [{ username: "carol", password: "carol-local-pw" }], apps: [APP] });
  server = await startServer(data, { directory: corp.config });
  adData = await makeDataDir({ apps: [APP] });
  adServer = await startServer(adData, { directory: readmeDirectory("Active Directory").config });
});

afterAll(async () => {
  await adServer?.close();
  await server?.close();
  adData?.cleanup();
  data?.cleanup();
  await slapd?.cleanup();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

async function forwardAuth(target: RunningServer, cookie: string): Promise<number> {
  const response = await request(`${target.url}/auth/request`, { headers: { cookie: `ssoctl=${cookie}`, "x-original-url": `${APP}/`, "x-original-method": "GET" } });
  await response.body.dump();
  return response.statusCode;
}

describe("directory users sign in", () => {
  it("signs in a directory user (search, then bind as them) with groups from memberOf", async () => {
    const result = await signIn(server, { username: "alice", password: "alice-dir-pw" }, { rd: `${APP}/` });
    expect(result.status).toBe(303);
    expect(await forwardAuth(server, result.cookie!)).toBe(200);
    const alice = await server.store.getUser("alice");
    expect(alice).toMatchObject({ name: "Alice Dir", email: "alice@corp.test", groups: ["admins", "staff"] });
    const listed = await runSsoctl(["user", "list", "--source", "directory", "--json", "--data-dir", data.dataDir.dir]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).map((u: { username: string }) => u.username)).toContain("alice");
  });

  it("ssoctl directory test shows the DN, groups and attributes without signing in", async () => {
    const shown = await runSsoctl(["directory", "test", "bob", "--config", corpFile, "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toEqual({ username: "bob", dn: `uid=bob,ou=people,${CORP}`, name: "Bob Dir", email: "", groups: ["staff"], disabled: false });
    const missing = await runSsoctl(["directory", "test", "*)(uid=*", "--config", corpFile]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("the directory has no single entry");
  });

  it("refuses a wrong password, an unknown name and filter injection", async () => {
    expect((await signIn(server, { username: "bob", password: "wrong" })).status).toBe(401);
    expect((await signIn(server, { username: "nobody", password: "x" })).status).toBe(401);
    expect((await signIn(server, { username: "*)(uid=*", password: "alice-dir-pw" })).status).toBe(401);
    expect((await signIn(server, { username: "*", password: "bob-dir-pw" })).status).toBe(401);
  });

  it("keeps local users beside directory users", async () => {
    expect((await signIn(server, { username: "carol", password: "carol-local-pw" })).status).toBe(303);
  });

  it("asks a directory user with TOTP in ssoctl for the code", async () => {
    expect((await signIn(server, { username: "frank", password: "frank-dir-pw" })).status).toBe(303);
    await server.store.factors.setTotp("frank", "JBSWY3DPEHPK3PXP", [], Math.floor(Date.now() / 1000));
    const second = await signIn(server, { username: "frank", password: "frank-dir-pw" }, { rd: `${APP}/` });
    expect(second.cookie).toBeUndefined();
    expect(second.body).toMatch(/code/i);
  });

  it("finds Active Directory accounts by sAMAccountName with groups from a group search, and refuses a disabled one", async () => {
    const dana = await signIn(adServer, { username: "dana", password: "dana-ad-pw" }, { rd: `${APP}/` });
    expect(dana.status).toBe(303);
    expect(await adServer.store.getUser("dana")).toMatchObject({ name: "Dana Ad", groups: ["ops"] });
    expect((await signIn(adServer, { username: "eve", password: "eve-ad-pw" })).status).toBe(401);
  });
});

describe("when the directory changes or goes away", () => {
  it("ends a deleted account's live session at the background re-check", async () => {
    const result = await signIn(server, { username: "gone", password: "gone-dir-pw" }, { rd: `${APP}/` });
    expect(await forwardAuth(server, result.cookie!)).toBe(200);
    await slapd.admin("ldapdelete", [`uid=gone,ou=people,${CORP}`]);
    let status = 200;
    for (let waited = 0; status === 200 && waited < 15_000; waited += 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = await forwardAuth(server, result.cookie!);
    }
    expect(status).toBe(401);
    expect((await signIn(server, { username: "gone", password: "gone-dir-pw" })).status).toBe(401);
  });

  it("fails closed for directory users while it is down, keeps local users and live sessions, and /healthz says so", async () => {
    const alice = await signIn(server, { username: "alice", password: "alice-dir-pw" }, { rd: `${APP}/` });
    await slapd.stop();
    try {
      const down = await signIn(server, { username: "bob", password: "bob-dir-pw" });
      expect(down.status).toBe(503);
      expect(down.body).toContain("The directory is unreachable");
      expect((await signIn(server, { username: "carol", password: "carol-local-pw" })).status).toBe(303);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await forwardAuth(server, alice.cookie!)).toBe(200);
      const health = await request(`${server.url}/healthz`);
      expect(health.statusCode).toBe(200);
      expect(await health.body.json()).toEqual({ status: "ok", directory: { name: "corp", status: "unreachable" } });
    } finally {
      await slapd.start();
    }
    expect((await signIn(server, { username: "bob", password: "bob-dir-pw" })).status).toBe(303);
  });
});
