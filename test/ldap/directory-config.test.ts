import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { directoryConfigOf } from "../../src/directory/config.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-directory-config-"));
const passwordFile = path.join(dir, "pw");
fs.writeFileSync(passwordFile, "s3cret\n");

const good = { url: "ldaps://dc1.corp.example", bind_dn: "cn=svc,dc=corp", bind_password_file: passwordFile, user_base: "ou=people,dc=corp" };

describe("the directory section", () => {
  it("maps the file's keys to the source's options, reading the password file", () => {
    const config = directoryConfigOf({ ...good, user_filter: "(sAMAccountName={username})", group_base: "ou=groups,dc=corp", group_filter: "(member={dn})", timeout: "3s", recheck: "2m", pool_size: 2 }, {});
    expect(config).toEqual({
      options: { name: "directory", url: ["ldaps://dc1.corp.example"], starttls: undefined, bindDn: "cn=svc,dc=corp", bindPassword: "s3cret", userBase: "ou=people,dc=corp", userFilter: "(sAMAccountName={username})", groupBase: "ou=groups,dc=corp", groupFilter: "(member={dn})", timeoutMs: 3000, poolSize: 2 },
      recheckSeconds: 120,
    });
  });

  it("takes the password from SSOCTL_DIRECTORY_BIND_PASSWORD", () => {
    const { bind_password_file: _file, ...rest } = good;
    expect(directoryConfigOf(rest, { SSOCTL_DIRECTORY_BIND_PASSWORD: "from-env" }).options.bindPassword).toBe("from-env");
  });

  it.each([
    [{ ...good, url: "http://x" }, /directory.url must be ldap:\/\//],
    [{ ...good, bind_dn: undefined }, /directory.bind_dn is required/],
    [{ ...good, user_filter: "uid={username}" }, /user_filter must be a filter in parentheses containing \{username\}/],
    [{ ...good, user_filter: "(uid=alice)" }, /containing \{username\}/],
    [{ ...good, group_base: "ou=groups" }, /group_base and directory.group_filter go together/],
    [{ ...good, timeout: "soon" }, /directory.timeout must be a duration/],
    [{ ...good, bind_password_file: path.join(dir, "missing") }, /bind_password_file .* no such file/],
    [{ ...good, bind_password: "inline" }, /directory.bind_password is not a setting/],
    [{ ...good, starttls: "yes" }, /starttls must be true or false/],
    ["ldap://x", /directory must be a mapping/],
  ])("refuses %j", (section, message) => {
    expect(() => directoryConfigOf(section, {})).toThrow(message);
  });
});
