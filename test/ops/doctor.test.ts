/**
 * `ssoctl doctor`: run as a user runs it, against a real data directory (and a throwaway
 * PostgreSQL cluster), with real apps on 127.0.0.1: one behind the real Node guard, one not
 * protected, one protected by another login server. Needs `tsc -p .` first.
 */
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSampleApp } from "../../src/demo/sample-app.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { BIN, expectOk, initDataDir, query, ssoctl, type Result } from "../cli/helpers.js";

interface Row {
  check: string;
  status: "pass" | "warn" | "fail";
  detail: string;
  fix?: string;
}

const servers: Server[] = [];

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The CLI without blocking this process (the apps it fetches run here). */
function doctor(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.SSOCTL_DATA_DIR;
    if (env.SSOCTL_DATABASE_URL === undefined) delete childEnv.SSOCTL_DATABASE_URL;
    const child = spawn(process.execPath, [BIN, "doctor", ...args], { stdio: ["ignore", "pipe", "pipe"], env: childEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function rows(result: Result): Row[] {
  return JSON.parse(result.stdout) as Row[];
}

/** Every file of the directory with its content hash and mode: what "changes nothing" means. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    out[name] = `${createHash("sha256").update(fs.readFileSync(file)).digest("hex")} ${fs.statSync(file).mode.toString(8)}`;
  }
  return out;
}

/** The port of a `http://127.0.0.1:PORT` address, as the --port flag takes it. */
function portOf(url: string): string {
  return new URL(url).port;
}

let dir: string;
let loginUrl: string;
let protectedApp: string;
let openApp: string;
let otherSso: string;

beforeAll(async () => {
  dir = initDataDir();
  // The login server's public URL and the apps share 127.0.0.1 (cookies ignore ports), as a local set-up does.
  const loginPort = await listen(createServer((_req, res) => res.end("login")));
  loginUrl = loginPort;
  const key = ssoctl(["key", "show", "-d", dir]).stdout.trim().split("\n").pop()!.trim();
  protectedApp = await listen(createSampleApp({ appUrl: "http://127.0.0.1:1", loginUrl: `${loginUrl}/login`, secretKey: key }));
  openApp = await listen(createServer((_req, res) => res.end("<h1>Admin panel</h1>")));
  otherSso = await listen(createServer((_req, res) => {
    res.writeHead(302, { Location: "https://auth.elsewhere.example/oauth2/start" });
    res.end();
  }));
  for (const app of [protectedApp, openApp, otherSso]) expectOk(ssoctl(["app", "add", app, "-d", dir]));
});

afterAll(() => {
  for (const server of servers) server.close();
});

describe("ssoctl doctor", () => {
  it("passes a sound local installation, and an app behind the guard; changes nothing", async () => {
    const before = fingerprint(dir);
    const result = await doctor(["-d", dir, "--public-url", loginUrl, "--port", portOf(loginUrl), "--app", `${protectedApp}/reports`, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const checks = rows(result);
    expect(checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(["data directory", "secret.key mode", "ssoctl.db mode", "oidc-keys.json mode", "signing key", "database integrity", "migrations", "public URL", "cookie domain", "trusted proxies", "clock", `--app ${protectedApp}/reports`]),
    );
    expect(checks.find((c) => c.check === `--app ${protectedApp}/reports`)?.detail).toMatch(/answers 302 to this login server's sign-in page/);
    expect(fingerprint(dir)).toEqual(before);
  });

  it("catches an unprotected app and one protected by something else, each with its fix; exit 1", async () => {
    const result = await doctor(["-d", dir, "--public-url", loginUrl, "--port", portOf(loginUrl), "--app", openApp, "--app", otherSso]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("ssoctl: doctor found 2 failure(s); each has its fix above\n");
    expect(result.stdout).toMatch(new RegExp(`FAIL +--app ${openApp} +answers 200 without a login: the app is not protected`));
    expect(result.stdout).toMatch(/fix: put it behind ssoctl/);
    expect(result.stdout).toMatch(new RegExp(`FAIL +--app ${otherSso} +redirects \\(302\\) to https://auth.elsewhere.example/oauth2/start, not to ${loginUrl}/login, ${loginUrl}/oidc/auth or ${loginUrl}/cas/login: it is protected by something else`));
    expect(result.stdout).toContain("16 passed, 0 warning(s), 2 failure(s)."); // with the config file and the running login server
  });

  it("recognises an app that redirects to this login server's OpenID Connect or CAS endpoint, and a CAS service that is not registered", async () => {
    const redirecting = (to: (self: string) => string): Promise<string> => {
      let self = "";
      const server = createServer((_req, res) => {
        res.writeHead(302, { Location: to(self) });
        res.end();
      });
      return listen(server).then((url) => (self = url));
    };
    const oidcApp = await redirecting(() => `${loginUrl}/oidc/auth?client_id=grafana&redirect_uri=x&response_type=code&scope=openid`);
    const casApp = await redirecting((self) => `${loginUrl}/cas/login?service=${encodeURIComponent(`${self}/secure/`)}`);
    const strangerCas = await redirecting(() => `${loginUrl}/cas/login?service=${encodeURIComponent("https://stranger.example/")}`);
    const nameless = await redirecting(() => `${loginUrl}/oidc/auth?response_type=code`);
    const checks = rows(await doctor(["-d", dir, "--public-url", loginUrl, "--app", oidcApp, "--app", casApp, "--app", strangerCas, "--app", nameless, "--json"]));
    // Only the CAS app's origin is registered here; an OpenID Connect client is registered with `client add`, not as an app.
    expectOk(ssoctl(["app", "add", casApp, "-d", dir]));
    const again = rows(await doctor(["-d", dir, "--public-url", loginUrl, "--app", casApp, "--json"]));
    expect(checks.find((c) => c.check === `--app ${oidcApp}`)).toMatchObject({ status: "pass", detail: expect.stringMatching(/OpenID Connect authorization endpoint \(client_id grafana/) });
    expect(checks.find((c) => c.check === `--app ${casApp}`)).toMatchObject({ status: "fail", fix: `ssoctl app add ${casApp}` });
    expect(again.find((c) => c.check === `--app ${casApp}`)).toMatchObject({ status: "pass", detail: expect.stringMatching(/CAS login \(service http:/) });
    expect(checks.find((c) => c.check === `--app ${strangerCas}`)).toMatchObject({ status: "fail", detail: expect.stringMatching(/service https:\/\/stranger\.example\/ is not inside a registered app/) });
    expect(checks.find((c) => c.check === `--app ${nameless}`)).toMatchObject({ status: "fail", detail: expect.stringMatching(/without a client_id/) });
    expectOk(ssoctl(["app", "remove", casApp, "-d", dir]));
  });

  it("catches the cookie-domain mistake, naming each app the login cookie cannot reach", async () => {
    const apps = initDataDir();
    for (const app of ["https://wiki.example.com", "https://grafana.other.org"]) expectOk(ssoctl(["app", "add", app, "-d", apps]));
    const hostOnly = rows(await doctor(["-d", apps, "--public-url", "https://sso.example.com", "--json"]));
    expect(hostOnly.filter((c) => c.check === "cookie domain")).toEqual([
      expect.objectContaining({ status: "fail", detail: expect.stringMatching(/^app "grafana.other.org" \(https:\/\/grafana.other.org\) is outside the login cookie's reach \(host sso.example.com only/) }),
      expect.objectContaining({ status: "fail", detail: expect.stringMatching(/^app "wiki.example.com"/), fix: "ssoctl serve --cookie-domain example.com (the login server and the app share it)" }),
    ]);
    const shared = rows(await doctor(["-d", apps, "--public-url", "https://sso.example.com", "--cookie-domain", "example.com", "--json"]));
    expect(shared.filter((c) => c.check === "cookie domain")).toEqual([expect.objectContaining({ status: "fail", detail: expect.stringMatching(/^app "grafana.other.org"/) })]);
    // Unresolvable app hosts are a warning, not a failure.
    expect(shared.find((c) => c.check === "app wiki.example.com")?.status).toMatch(/pass|warn/);
    const wrong = rows(await doctor(["-d", apps, "--public-url", "https://sso.example.net", "--cookie-domain", "example.com", "--json"]));
    expect(wrong.find((c) => c.check === "cookie domain")).toMatchObject({ status: "fail", detail: expect.stringMatching(/sso.example.net is not inside --cookie-domain example.com/) });
  });

  it("fails plain http on a public host, loose key modes and an everyone-trusting proxy list; warns of a migration not yet applied without applying it", async () => {
    const loose = initDataDir();
    fs.chmodSync(path.join(loose, "secret.key"), 0o644);
    fs.chmodSync(path.join(loose, "oidc-keys.json"), 0o644);
    query(loose, "DELETE FROM schema_migrations WHERE version = 1 RETURNING version");
    // Later migrations (e.g. 005, CAS) stay applied; only 1 is missing.
    const left = query(loose, "SELECT version FROM schema_migrations ORDER BY version");
    const before = fingerprint(loose);
    const checks = rows(await doctor(["-d", loose, "--public-url", "http://sso.example.com", "--trusted-proxy", "0.0.0.0/0", "--json"]));
    const byName = (name: string) => checks.find((c) => c.check === name);
    expect(byName("secret.key mode")).toMatchObject({ status: "fail", fix: `chmod 600 ${path.join(loose, "secret.key")}` });
    expect(byName("oidc-keys.json mode")).toMatchObject({ status: "fail", fix: `chmod 600 ${path.join(loose, "oidc-keys.json")}` });
    expect(byName("public URL")).toMatchObject({ status: "fail", detail: expect.stringMatching(/http on a non-loopback host/) });
    expect(byName("trusted proxies")).toMatchObject({ status: "fail", detail: expect.stringMatching(/trusts every address/) });
    expect(byName("migrations")).toMatchObject({ status: "warn", detail: "not yet applied: 1" });
    expect(fingerprint(loose)).toEqual(before);
    expect(query(loose, "SELECT version FROM schema_migrations")).not.toContainEqual({ version: 1 });
  });

  it("reports a database that is not there or is damaged, and bad options as usage errors", async () => {
    const empty = initDataDir();
    fs.writeFileSync(path.join(empty, "ssoctl.db"), "this is not a database, just some text long enough to look like a header ........");
    const damaged = rows(await doctor(["-d", empty, "--json"]));
    expect(damaged.find((c) => c.check === "database")).toMatchObject({ status: "fail", detail: expect.stringMatching(/not a database/) });
    const usage = await doctor(["-d", dir, "--public-url", "ftp://x"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^ssoctl: --public-url "ftp:\/\/x" is not a URL starting with http:\/\/ or https:\/\//);
  });
});

describe("ssoctl doctor --database (PostgreSQL)", () => {
  let cluster: TestPostgres;
  beforeAll(async () => {
    cluster = await startTestPostgres();
  });
  afterAll(() => cluster?.destroy());

  it("checks the database, its migrations, the signing key and the clock against PostgreSQL's", async () => {
    const url = await cluster.createDatabase();
    expectOk(ssoctl(["init"], { env: { SSOCTL_DATABASE_URL: url } }));
    const result = await doctor(["--public-url", "https://sso.example.com", "--json"], { SSOCTL_DATABASE_URL: url });
    expect(result.code).toBe(0);
    const checks = rows(result);
    // No server runs with these settings: that alone is a warning, since doctor also runs before the first start.
    expect(checks.filter((c) => c.status !== "pass")).toEqual([expect.objectContaining({ check: "login server", status: "warn" })]);
    expect(checks.find((c) => c.check === "signing key")).toMatchObject({ status: "pass", detail: "the database holds the signing key" });
    expect(checks.find((c) => c.check === "clock")?.detail).toMatch(/agrees with PostgreSQL/);
    expect(checks.some((c) => c.check === "data directory")).toBe(false);

    const noSchema = await cluster.createDatabase();
    const bare = rows(await doctor(["--json"], { SSOCTL_DATABASE_URL: noSchema }));
    expect(bare.find((c) => c.check === "database integrity")).toMatchObject({ status: "fail", detail: expect.stringMatching(/no ssoctl tables/) });
  });
});

describe("ssoctl doctor and proxy configurations", () => {
  it("warns about an nginx configuration that sends the client's Host as the target, and passes README's", async () => {
    const { checkProxyConfigs, reflectedHostLines } = await import("../../src/ops/proxy-config.js");
    const reflecting = "location = /_ssoctl {\n    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;\n    # proxy_set_header X-Original-URL $host;\n}\n";
    expect(reflectedHostLines(reflecting)).toEqual([2]);
    expect(reflectedHostLines("proxy_set_header X-Original-URL http://$host$request_uri;")).toEqual([1]);
    expect(reflectedHostLines("set $ssoctl_app https://wiki.example.com;\nproxy_set_header X-Original-URL $ssoctl_app$request_uri;")).toEqual([]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-proxy-"));
    try {
      const file = path.join(dir, "wiki.conf");
      fs.writeFileSync(file, reflecting);
      const result = await doctor(["-d", initDataDir(), "--proxy-config", file, "--json"]);
      const row = (JSON.parse(result.stdout) as Array<{ check: string; status: string; detail: string }>).find((c) => c.check === "proxy Host");
      expect(row).toMatchObject({ status: "warn", detail: expect.stringContaining(`${file}:2 builds X-Original-URL from the client's Host`) });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(checkProxyConfigs([{ path: "readme.conf", text: "proxy_set_header X-Original-URL $ssoctl_app$request_uri;" }], { reportPass: true })[0]!.status).toBe("pass");
  });
});
