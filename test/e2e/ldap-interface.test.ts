/**
 * The LDAP interface against the real clients apps use: OpenLDAP's ldapsearch/ldapwhoami (plain,
 * StartTLS, LDAPS, paged), Python's ldap3, and Apache mod_authnz_ldap guarding a page. The server
 * is `ssoctl serve` started with README's "Serve LDAP" commands as written (the port swapped), and
 * Apache runs README's block as written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeDataDir, type TestDataDir } from "../support/server.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { runSsoctl } from "./support/cli.js";
import { readmeBlock } from "./support/readme.js";
import { APACHE } from "./support/apache.js";
import { freePort, requireProgram, startProgram, tempDir, type RunningProgram } from "./support/processes.js";
import { LDAP_TOOLS, makeCertificate, passwordFile, requireLdap3, runTool } from "./support/ldap-tools.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BASE = "dc=example,dc=org";
const README_LDAP = "127.0.0.1:3890";

let dir: string;
let data: TestDataDir;
let serve: RunningProgram;
let apache: RunningProgram;
let ldapUrl: string;
let ldapsUrl: string;
let apacheOrigin: string;
let cert: string;
let wikiPassword: string;
let daveAppPassword: string;

/** README's "Serve LDAP" commands, each as an argument list (continuations joined, comments dropped). */
function readmeCommands(): string[][] {
  const block = readmeBlock("Serve LDAP", "sh", "--ldap-listen");
  const lines = block.split("\n").filter((l) => !l.trim().startsWith("#"));
  return lines
    .join("\n")
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.trim().split(/\s+/));
}

function svc(): { dn: string; file: string } {
  return { dn: `cn=wiki,ou=services,${BASE}`, file: passwordFile(dir, "wiki", wikiPassword) };
}

beforeAll(async () => {
  dir = tempDir("ldap");
  ({ cert } = await makeCertificate(dir));
  const key = path.join(dir, "server.key");
  data = await makeDataDir({
    users: [
      { username: "alice", password: "alice-pass-1", name: "Alice Example", email: "alice@example.org", groups: ["admins", "staff"] },
      { username: "bob", password: "bob-pass-12", name: "Bob Builder", email: "bob@example.org", groups: ["staff"] },
      { username: "carol", password: "carol-pass-1", groups: ["staff"], disabled: true },
      { username: "dave", password: "dave-pass-12", name: "Dave Careful", groups: ["staff"] },
      { username: "erin", password: "erin-pass-12", name: "Erin Outside" },
    ],
  });
  const store = openSqliteStore(data.dataDir.dbPath);
  await store.factors.setTotp("dave", "JBSWY3DPEHPK3PXP", [], Math.floor(Date.now() / 1000));
  await store.close();

  const [ldapPort, ldapsPort, httpPort, apachePort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  ldapUrl = `ldap://127.0.0.1:${ldapPort}`;
  ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  const dataDir = ["--data-dir", data.dataDir.dir];
  let serveArgs: string[] | null = null;
  for (const command of readmeCommands()) {
    expect(command[0]).toBe("ssoctl");
    const args = command.slice(1).map((a) => a.replace(README_LDAP, `127.0.0.1:${ldapPort}`));
    if (args[0] === "serve") {
      serveArgs = args;
      continue;
    }
    const result = await runSsoctl([...args, ...dataDir]);
    expect(result.code, result.stderr).toBe(0);
    if (args[0] === "ldap") {
      expect(result.stdout).toContain(`bind DN:  cn=wiki,ou=services,${BASE}`);
      wikiPassword = /password: (\S+)/.exec(result.stdout)![1]!;
    }
    if (args[0] === "user") daveAppPassword = /: ([a-z0-9-]{29})$/m.exec(result.stdout)![1]!;
  }
  expect(serveArgs).not.toBeNull();
  serve = await startProgram({
    name: "ssoctl serve",
    command: process.execPath,
    args: [path.join(ROOT, "bin/ssoctl"), ...serveArgs!, "--port", String(httpPort), "--ldaps-listen", `127.0.0.1:${ldapsPort}`, "--ldap-tls-cert-file", cert, "--ldap-tls-key-file", key, ...dataDir],
    url: `http://127.0.0.1:${httpPort}/healthz`,
  });

  // The HTTP side answers before the LDAP listeners are up; serve says when they are.
  for (let waited = 0; !serve.output().includes("LDAP interface listening"); waited += 50) {
    if (waited > 15_000) throw new Error(`ssoctl serve did not start the LDAP interface:\n${serve.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const apacheCommand = requireProgram("apache2", APACHE, "apache2");
  const site = path.join(dir, "site");
  fs.mkdirSync(path.join(site, "wiki"), { recursive: true });
  fs.mkdirSync(path.join(dir, "run"));
  fs.writeFileSync(path.join(site, "wiki", "page.txt"), "the wiki\n");
  const bindPasswordFile = path.join(dir, "ssoctl-ldap-password");
  fs.writeFileSync(bindPasswordFile, wikiPassword, { mode: 0o600 });
  const runAsRoot = process.getuid?.() === 0;
  if (runAsRoot) for (const d of [dir, site, path.join(site, "wiki")]) fs.chmodSync(d, 0o755);
  if (runAsRoot) fs.chmodSync(path.join(site, "wiki", "page.txt"), 0o644);
  const block = readmeBlock("Apache (`mod_authnz_ldap`, tested)", "apache", "AuthLDAPURL");
  for (const documented of [`ldap://${README_LDAP}/`, "/etc/apache2/ssoctl-ldap-password"]) expect(block).toContain(documented);
  const modules = "/usr/lib/apache2/modules";
  const config = [
    `Listen 127.0.0.1:${apachePort}`,
    ...["mpm_prefork", "authn_core", "authz_core", "authz_user", "auth_basic", "ldap", "authnz_ldap"].map((m) => `LoadModule ${m}_module ${modules}/mod_${m}.so`),
    runAsRoot ? "User nobody\nGroup nogroup" : "",
    "StartServers 1\nMinSpareServers 1\nMaxSpareServers 2\nServerName 127.0.0.1",
    `PidFile ${dir}/run/httpd.pid`,
    `DefaultRuntimeDir ${dir}/run`,
    `Mutex file:${dir}/run default`,
    `ErrorLog ${dir}/error.log`,
    "LogLevel warn authnz_ldap:debug",
    `DocumentRoot ${site}`,
    block.replace(`ldap://${README_LDAP}/`, `ldap://127.0.0.1:${ldapPort}/`).replace("/etc/apache2/ssoctl-ldap-password", bindPasswordFile),
  ].join("\n");
  fs.writeFileSync(path.join(dir, "httpd.conf"), config);
  apacheOrigin = `http://127.0.0.1:${apachePort}`;
  apache = await startProgram({ name: "apache2", command: apacheCommand, args: ["-f", path.join(dir, "httpd.conf"), "-DFOREGROUND"], url: `${apacheOrigin}/nothing`, detached: true });
});

afterAll(async () => {
  await apache?.stop();
  await serve?.stop();
  data?.cleanup();
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
});

function caEnv(): NodeJS.ProcessEnv {
  return { LDAPTLS_CACERT: cert };
}

describe("OpenLDAP's tools", () => {
  it("ldapsearch as the app's service account finds a user with mail and groups", async () => {
    const { dn, file } = svc();
    const result = await runTool(LDAP_TOOLS.ldapsearch(), ["-x", "-LLL", "-H", ldapUrl, "-D", dn, "-y", file, "-b", `ou=people,${BASE}`, "(uid=alice)", "mail", "memberOf", "entryUUID"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`dn: uid=alice,ou=people,${BASE}`);
    expect(result.stdout).toContain("mail: alice@example.org");
    expect(result.stdout).toContain(`memberOf: cn=admins,ou=groups,${BASE}`);
    expect(result.stdout).toMatch(/entryUUID: [0-9a-f-]{36}/);
  });

  it("ldapwhoami names the service account, and refuses a user's bind without one", async () => {
    const { dn, file } = svc();
    const who = await runTool(LDAP_TOOLS.ldapwhoami(), ["-x", "-H", ldapUrl, "-D", dn, "-y", file]);
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout.trim()).toBe(`dn:${dn}`);
    const user = await runTool(LDAP_TOOLS.ldapwhoami(), ["-x", "-H", ldapUrl, "-D", `uid=alice,ou=people,${BASE}`, "-y", passwordFile(dir, "alice", "alice-pass-1")]);
    expect(user.code).toBe(49);
    expect(user.stderr).toContain("Invalid credentials (49)");
    const wrong = await runTool(LDAP_TOOLS.ldapwhoami(), ["-x", "-H", ldapUrl, "-D", dn, "-y", passwordFile(dir, "bad", "not-it")]);
    expect(wrong.code).toBe(49);
  });

  it("speaks StartTLS and LDAPS with the configured certificate, and fails without trusting it", async () => {
    const { dn, file } = svc();
    const starttls = await runTool(LDAP_TOOLS.ldapwhoami(), ["-x", "-ZZ", "-H", ldapUrl, "-D", dn, "-y", file], { env: caEnv() });
    expect(starttls.code, starttls.stderr).toBe(0);
    expect(starttls.stdout.trim()).toBe(`dn:${dn}`);
    const ldaps = await runTool(LDAP_TOOLS.ldapsearch(), ["-x", "-LLL", "-H", ldapsUrl, "-D", dn, "-y", file, "-b", BASE, "(uid=bob)", "uid"], { env: caEnv() });
    expect(ldaps.code, ldaps.stderr).toBe(0);
    expect(ldaps.stdout).toContain("uid: bob");
    const untrusted = await runTool(LDAP_TOOLS.ldapwhoami(), ["-x", "-ZZ", "-H", ldapUrl, "-D", dn, "-y", file], { env: { LDAPTLS_CACERT: "/dev/null" } });
    expect(untrusted.code).not.toBe(0);
  });

  it("pages through every enabled user, and refuses to delete one", async () => {
    const { dn, file } = svc();
    const paged = await runTool(LDAP_TOOLS.ldapsearch(), ["-x", "-LLL", "-H", ldapUrl, "-D", dn, "-y", file, "-b", `ou=people,${BASE}`, "-E", "pr=2/noprompt", "(objectClass=inetOrgPerson)", "uid"]);
    expect(paged.code, paged.stderr).toBe(0);
    expect([...paged.stdout.matchAll(/^uid: (\S+)$/gm)].map((m) => m[1]).sort()).toEqual(["alice", "bob", "dave", "erin"]);
    const removed = await runTool(LDAP_TOOLS.ldapdelete(), ["-x", "-H", ldapUrl, "-D", dn, "-y", file, `uid=bob,ou=people,${BASE}`]);
    expect(removed.code).toBe(53);
    expect(removed.stderr).toContain("Server is unwilling to perform (53)");
  });

  it("finds nobody with an injection in an escaped filter", async () => {
    const { dn, file } = svc();
    const result = await runTool(LDAP_TOOLS.ldapsearch(), ["-x", "-LLL", "-H", ldapUrl, "-D", dn, "-y", file, "-b", BASE, "(uid=\\2a\\29\\28uid=\\2a)", "uid"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("");
  });
});

describe("Python ldap3", () => {
  it("reads the root DSE, searches, pages, and checks passwords and app passwords by rebinding", async () => {
    const python = await requireLdap3();
    const script = `
import json, sys
from ldap3 import Server, Connection, ALL, SUBTREE
conf = json.loads(sys.stdin.read())
server = Server(conf["url"], get_info=ALL)
conn = Connection(server, conf["dn"], conf["password"], auto_bind=True)
out = {"naming_contexts": list(server.info.naming_contexts)}
conn.search("ou=people," + conf["base"], "(&(objectClass=inetOrgPerson)(|(uid=bob)(uid=dave)))", attributes=["uid", "displayName", "memberOf"])
out["found"] = sorted(str(e.uid) for e in conn.entries)
out["paged"] = sorted(e["attributes"]["uid"][0] for e in conn.extend.standard.paged_search(conf["base"], "(uid=*)", SUBTREE, attributes=["uid"], paged_size=1, generator=True))
out["who"] = conn.extend.standard.who_am_i()
out["bob"] = conn.rebind("uid=bob,ou=people," + conf["base"], "bob-pass-12")
conn.rebind(conf["dn"], conf["password"])
out["dave_password"] = conn.rebind("uid=dave,ou=people," + conf["base"], "dave-pass-12")
conn.rebind(conf["dn"], conf["password"])
out["dave_app_password"] = conn.rebind("uid=dave,ou=people," + conf["base"], conf["app_password"])
out["dave_who"] = conn.extend.standard.who_am_i()
print(json.dumps(out))
`;
    const result = await runTool(python, ["-c", script], { input: JSON.stringify({ url: ldapUrl, dn: `cn=wiki,ou=services,${BASE}`, password: wikiPassword, base: BASE, app_password: daveAppPassword }) });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.naming_contexts).toEqual([BASE]);
    expect(out.found).toEqual(["bob", "dave"]);
    expect(out.paged).toEqual(["alice", "bob", "dave", "erin"]);
    expect(out.who).toBe(`dn:cn=wiki,ou=services,${BASE}`);
    expect(out.bob).toBe(true);
    expect(out.dave_password).toBe(false);
    expect(out.dave_app_password).toBe(true);
    expect(out.dave_who).toBe(`dn:uid=dave,ou=people,${BASE}`);
  });
});

describe("Apache mod_authnz_ldap guarding a page through the interface (README's block)", () => {
  async function get(user?: string, password?: string): Promise<number> {
    const headers: Record<string, string> = user === undefined ? {} : { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
    const response = await request(`${apacheOrigin}/wiki/page.txt`, { headers });
    await response.body.dump();
    return response.statusCode;
  }

  it("lets in staff with their password, or with an app password for a user with a second factor", async () => {
    expect(await get("alice", "alice-pass-1")).toBe(200);
    expect(await get("bob", "bob-pass-12")).toBe(200);
    expect(await get("dave", daveAppPassword)).toBe(200);
  });

  it("keeps out wrong passwords, disabled users, users outside the group and a second-factor user's main password", async () => {
    expect(await get()).toBe(401);
    expect(await get("alice", "wrong-password")).toBe(401);
    expect(await get("carol", "carol-pass-1")).toBe(401);
    expect(await get("erin", "erin-pass-12")).toBe(401);
    expect(await get("dave", "dave-pass-12")).toBe(401);
    expect(await get("*", "x")).toBe(401);
  });

  it("applies the app's access rules: a user the app does not admit cannot bind through its account", async () => {
    const set = await runSsoctl(["app", "set", "wiki", "--allow-group", "admins", "--data-dir", data.dataDir.dir]);
    expect(set.code, set.stderr).toBe(0);
    try {
      expect(await get("bob", "bob-pass-12")).toBe(401);
      expect(await get("alice", "alice-pass-1")).toBe(200);
    } finally {
      await runSsoctl(["app", "set", "wiki", "--allow-any", "--data-dir", data.dataDir.dir]);
    }
  });

  it("stops a revoked app password at once", async () => {
    const removed = await runSsoctl(["user", "app-password", "remove", "dave", "--label", "wiki", "--data-dir", data.dataDir.dir]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(await get("dave", daveAppPassword)).toBe(401);
  });
});
