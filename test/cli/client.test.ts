import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { copyDataDir, expectError, expectOk, initDataDir, mode, query, ssoctl } from "./helpers.js";

let template: string;

beforeAll(() => {
  template = initDataDir();
});

interface ClientRow {
  client_id: string;
  name: string;
  secret_hash: string | null;
  redirect_uris: string;
  post_logout_uris: string;
  app_origin: string | null;
}

describe("ssoctl client add", () => {
  it("prints a client id and a secret once; only the secret's hash is stored", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["client", "add", "grafana", "--redirect-uri", "https://grafana.example.com/login/generic_oauth", "--data-dir", dir]);
    expectOk(result);
    const clientId = /client id:\s+(\S+)/.exec(result.stdout)![1]!;
    const secret = /client secret:\s+(\S+)/.exec(result.stdout)![1]!;
    expect(clientId).toMatch(/^grafana-[0-9a-f]{16}$/);
    expect(secret.length).toBeGreaterThanOrEqual(43);
    const [row] = query<ClientRow>(dir, "SELECT * FROM oidc_clients");
    expect(row!.client_id).toBe(clientId);
    expect(row!.secret_hash).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(fs.readFileSync(path.join(dir, "ssoctl.db")).includes(Buffer.from(secret))).toBe(false);
    expect(JSON.parse(row!.redirect_uris)).toEqual(["https://grafana.example.com/login/generic_oauth"]);
  });

  it("--help says every client is first-party: no consent page, a refresh token for offline_access without prompt=consent", () => {
    const result = ssoctl(["client", "add", "--help"]);
    expectOk(result);
    expect(result.stdout.replace(/\s+/g, " ")).toContain("Every client registered here is first-party: no consent page, and offline_access gives it a refresh token without prompt=consent");
  });

  it("--json gives clientId and clientSecret; --public has no secret", () => {
    const dir = copyDataDir(template);
    const confidential = ssoctl(["client", "add", "gitea", "--redirect-uri", "https://git.example.com/cb", "https://git.example.com/cb2", "--post-logout-uri", "https://git.example.com/", "--json", "--data-dir", dir]);
    expectOk(confidential);
    const parsed = JSON.parse(confidential.stdout) as { clientId: string; clientSecret: string };
    expect(parsed.clientId).toMatch(/^gitea-/);
    expect(parsed.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const pub = ssoctl(["client", "add", "spa", "--public", "--redirect-uri", "http://localhost:5173/cb", "--json", "--data-dir", dir]);
    expectOk(pub);
    expect(JSON.parse(pub.stdout).clientSecret).toBeNull();
    const list = ssoctl(["client", "list", "--json", "--data-dir", dir]);
    expectOk(list);
    const clients = JSON.parse(list.stdout) as Array<{ name: string; public: boolean; redirectUris: string[]; postLogoutUris: string[] }>;
    expect(clients.map((c) => [c.name, c.public])).toEqual([["gitea", false], ["spa", true]]);
    expect(clients[0]!.redirectUris).toEqual(["https://git.example.com/cb", "https://git.example.com/cb2"]);
    expect(clients[0]!.postLogoutUris).toEqual(["https://git.example.com/"]);
    expect(JSON.stringify(clients)).not.toContain(parsed.clientSecret);
  });

  it("uses the redirect URI's registered app for access rules, or --app when given", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "https://cloud.example.com", "--data-dir", dir]));
    expectOk(ssoctl(["client", "add", "nextcloud", "--redirect-uri", "https://cloud.example.com/apps/oidc/cb", "--data-dir", dir]));
    expect(query<ClientRow>(dir, "SELECT app_origin FROM oidc_clients")).toEqual([{ app_origin: "https://cloud.example.com" }]);
    expectError(ssoctl(["client", "add", "other", "--redirect-uri", "https://x.example.com/cb", "--app", "https://nope.example.com", "--data-dir", dir]), 1, /not a registered app; register it first with `ssoctl app add https:\/\/nope.example.com`/);
  });

  it.each([
    [["--redirect-uri", "javascript:alert(1)"], /must be an http/],
    [["--redirect-uri", "https://a.example.com/cb#frag"], /must not have a fragment/],
    [["--redirect-uri", "https://user:pw@a.example.com/cb"], /user name or password/],
    [["--redirect-uri", "/relative"], /not an absolute URL/],
    [["--redirect-uri", "https://a.example.com/cb", "--id-token-alg", "HS256"], /must be RS256 or ES256/],
  ])("refuses %j", (args, message) => {
    const dir = copyDataDir(template);
    expectError(ssoctl(["client", "add", "bad", ...args, "--data-dir", dir]), 1, message);
    expect(query(dir, "SELECT * FROM oidc_clients")).toEqual([]);
  });

  it("refuses a bad name, a duplicate name, and a missing --redirect-uri", () => {
    const dir = copyDataDir(template);
    expectError(ssoctl(["client", "add", "bad name", "--redirect-uri", "https://a.example.com/cb", "--data-dir", dir]), 1, /client name "bad name" must be/);
    expectOk(ssoctl(["client", "add", "app1", "--redirect-uri", "https://a.example.com/cb", "--data-dir", dir]));
    expectError(ssoctl(["client", "add", "APP1", "--redirect-uri", "https://a.example.com/cb", "--data-dir", dir]), 1, /already exists/);
    const missing = ssoctl(["client", "add", "app2", "--data-dir", dir]);
    expect(missing.code).toBe(2);
  });
});

describe("ssoctl client remove", () => {
  it("removes by name and says when there is no such client", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["client", "add", "grafana", "--redirect-uri", "https://g.example.com/cb", "--data-dir", dir]));
    const removed = ssoctl(["client", "remove", "Grafana", "--data-dir", dir]);
    expectOk(removed);
    expect(removed.stdout).toMatch(/^Removed client grafana \(grafana-[0-9a-f]{16}\)\n$/);
    expect(query(dir, "SELECT * FROM oidc_clients")).toEqual([]);
    expectError(ssoctl(["client", "remove", "grafana", "--data-dir", dir]), 1, /no client named "grafana"/);
  });
});

describe("OpenID Connect signing keys", () => {
  it("init makes them (0600); key rotate puts new ones in front and keeps the old ones for the grace", () => {
    const dir = copyDataDir(template);
    const file = path.join(dir, "oidc-keys.json");
    expect(mode(file)).toBe(0o600);
    const before = JSON.parse(fs.readFileSync(file, "utf8")) as { current: Array<{ kid: string; alg: string }>; retired: unknown[] };
    expect(before.current.map((k) => k.alg)).toEqual(["RS256", "ES256"]);
    const rotated = ssoctl(["key", "rotate", "--grace", "1h", "--data-dir", dir]);
    expectOk(rotated);
    expect(rotated.stdout).toContain("Rotated the OpenID Connect signing keys");
    const after = JSON.parse(fs.readFileSync(file, "utf8")) as { current: Array<{ kid: string }>; retired: Array<{ key: { kid: string }; expiresAt: number }> };
    expect(mode(file)).toBe(0o600);
    expect(after.current.map((k) => k.kid)).not.toEqual(before.current.map((k) => k.kid));
    expect(after.retired.map((r) => r.key.kid)).toEqual(before.current.map((k) => k.kid));
    const now = Date.now() / 1000;
    for (const r of after.retired) expect(r.expiresAt - now).toBeGreaterThan(3500);
  });

  it("an older data directory without them gets them at the first start (the upgrade)", async () => {
    const dir = copyDataDir(template);
    fs.rmSync(path.join(dir, "oidc-keys.json"));
    const { resolveDataDir } = await import("../../src/data-dir.js");
    const { FileOidcKeys, ensureOidcKeys } = await import("../../src/protocols/oidc/keys.js");
    const storage = new FileOidcKeys(resolveDataDir(dir));
    const made = await ensureOidcKeys(storage, Math.floor(Date.now() / 1000));
    expect(mode(path.join(dir, "oidc-keys.json"))).toBe(0o600);
    expect((await ensureOidcKeys(storage, Math.floor(Date.now() / 1000))).current[0]!.kid).toBe(made.current[0]!.kid);
  });
});
