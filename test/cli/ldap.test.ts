import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { copyDataDir, expectError, expectOk, initDataDir, query, ssoctl } from "./helpers.js";

let template: string;

beforeAll(() => {
  template = initDataDir();
  expectOk(ssoctl(["app", "add", "https://wiki.example.org", "--name", "wiki", "--data-dir", template]));
  expectOk(ssoctl(["user", "add", "dave", "--password-stdin", "--data-dir", template], { input: "dave-pass-12\n" }));
});

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

describe("ssoctl ldap account", () => {
  it("adds an account for an app, prints its bind DN and password once, and keeps only the hash", () => {
    const dir = copyDataDir(template);
    const result = ssoctl(["ldap", "account", "add", "wiki", "--app", "wiki", "--base-dn", "dc=example,dc=org", "--data-dir", dir]);
    expectOk(result);
    expect(result.stdout).toContain("bind DN:  cn=wiki,ou=services,dc=example,dc=org");
    const secret = /password: (\S+)/.exec(result.stdout)![1]!;
    expect(secret.length).toBeGreaterThanOrEqual(43);
    expect(query<{ secret_hash: string }>(dir, "SELECT secret_hash FROM ldap_accounts")[0]!.secret_hash).toBe(sha256(secret));
    expect(fs.readFileSync(path.join(dir, "ssoctl.db")).includes(Buffer.from(secret))).toBe(false);
    const listed = ssoctl(["ldap", "account", "list", "--json", "--data-dir", dir]);
    expectOk(listed);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ name: "wiki", app: "https://wiki.example.org", last_used: null }]);
    expectOk(ssoctl(["ldap", "account", "remove", "wiki", "--data-dir", dir]));
    expect(query(dir, "SELECT * FROM ldap_accounts")).toEqual([]);
    expect(query<{ event: string }>(dir, "SELECT event FROM audit WHERE event LIKE 'ldap_account.%' ORDER BY id").map((r) => r.event)).toEqual(["ldap_account.added", "ldap_account.removed"]);
  });

  it("refuses an unknown app, a taken name, a bad name and removing an unknown account, changing nothing", () => {
    const dir = copyDataDir(template);
    expectError(ssoctl(["ldap", "account", "add", "x", "--app", "https://nope.example.org", "--data-dir", dir]), 1, /no app with origin or name "https:\/\/nope.example.org"/);
    expectOk(ssoctl(["ldap", "account", "add", "wiki", "--app", "wiki", "--data-dir", dir]));
    expectError(ssoctl(["ldap", "account", "add", "WIKI", "--app", "wiki", "--data-dir", dir]), 1, /already exists/);
    expectError(ssoctl(["ldap", "account", "add", "a,b", "--app", "wiki", "--data-dir", dir]), 1, /account name "a,b" must be/);
    expectError(ssoctl(["ldap", "account", "remove", "nope", "--data-dir", dir]), 1, /no LDAP account named "nope"/);
    expect(query(dir, "SELECT name FROM ldap_accounts")).toEqual([{ name: "wiki" }]);
  });
});

describe("ssoctl user app-password", () => {
  it("adds one (shown once, stored hashed), lists labels only, removes it; each change audited", () => {
    const dir = copyDataDir(template);
    const added = ssoctl(["user", "app-password", "add", "dave", "--label", "jellyfin", "--data-dir", dir]);
    expectOk(added);
    const secret = /: ([a-z0-9]{4}(?:-[a-z0-9]{4}){5})$/m.exec(added.stdout)![1]!;
    expect(query<{ secret_hash: string }>(dir, "SELECT secret_hash FROM app_passwords")[0]!.secret_hash).toBe(sha256(secret.replaceAll("-", "")));
    const listed = ssoctl(["user", "app-password", "list", "dave", "--data-dir", dir]);
    expectOk(listed);
    expect(listed.stdout).toContain("jellyfin");
    expect(listed.stdout).not.toContain(secret);
    expectError(ssoctl(["user", "app-password", "add", "dave", "--label", "Jellyfin", "--data-dir", dir]), 1, /already has an app password labelled "Jellyfin"/);
    expectOk(ssoctl(["user", "app-password", "remove", "dave", "--label", "jellyfin", "--data-dir", dir]));
    expectError(ssoctl(["user", "app-password", "remove", "dave", "--label", "jellyfin", "--data-dir", dir]), 1, /has no app password labelled "jellyfin"/);
    expect(query<{ event: string }>(dir, "SELECT event FROM audit WHERE event LIKE 'app_password.%' ORDER BY id").map((r) => r.event)).toEqual(["app_password.added", "app_password.removed"]);
  });

  it("refuses an unknown user and a bad label", () => {
    const dir = copyDataDir(template);
    expectError(ssoctl(["user", "app-password", "add", "nobody", "--label", "x", "--data-dir", dir]), 1, /no user named nobody/);
    expectError(ssoctl(["user", "app-password", "add", "dave", "--label", "", "--data-dir", dir]), 1, /label "" must be/);
    expectError(ssoctl(["user", "app-password", "list", "nobody", "--data-dir", dir]), 1, /nobody/);
    expect(query(dir, "SELECT * FROM app_passwords")).toEqual([]);
  });
});

describe("ssoctl serve --ldap-*", () => {
  it("refuses LDAP flags that do not go together, before starting", () => {
    const dir = copyDataDir(template);
    expectError(ssoctl(["serve", "--ldap-listen", "127.0.0.1:0", "--data-dir", dir]), 2, /--ldap-listen needs --ldap-base-dn/);
    expectError(ssoctl(["serve", "--ldap-listen", "nope", "--data-dir", dir]), 2, /--ldap-listen "nope" is not HOST:PORT/);
    expectError(ssoctl(["serve", "--ldaps-listen", "127.0.0.1:0", "--ldap-base-dn", "dc=example,dc=org", "--data-dir", dir]), 2, /--ldaps-listen needs --ldap-tls-cert-file/);
    expectError(ssoctl(["serve", "--ldap-listen", "127.0.0.1:0", "--ldap-base-dn", "not a dn", "--data-dir", dir]), 2, /base_dn "not a dn" is not a DN/);
  });
});
