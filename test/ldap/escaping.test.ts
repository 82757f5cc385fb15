import { describe, expect, it } from "vitest";
import { escapeFilterValue, fillFilter } from "../../src/directory/escape.js";
import { escapeDnValue, normalizeDnText, parseDn } from "../../src/protocols/ldap/dn.js";

describe("RFC 4515 filter values", () => {
  it.each([
    ["alice", "alice"],
    ["*)(uid=*", "\\2a\\29\\28uid=\\2a"],
    ["a\\b", "a\\5cb"],
    ["nul\u0000", "nul\\00"],
    ["josé", "jos\\c3\\a9"],
    ["*", "\\2a"],
  ])("escapes %j as %j", (value, escaped) => {
    expect(escapeFilterValue(value)).toBe(escaped);
  });

  it("fills {username} and {dn} escaped, and refuses a placeholder it has no value for", () => {
    expect(fillFilter("(&(objectClass=user)(sAMAccountName={username}))", { username: "x)(|(a=*" })).toBe("(&(objectClass=user)(sAMAccountName=x\\29\\28|\\28a=\\2a))");
    expect(fillFilter("(member={dn})", { dn: "cn=Smith\\, J (IT),ou=people,dc=x" })).toBe("(member=cn=Smith\\5c, J \\28IT\\29,ou=people,dc=x)");
    expect(() => fillFilter("(member={dn})", { username: "a" })).toThrow(/\{dn\}/);
  });
});

describe("RFC 4514 DNs", () => {
  it.each([
    ["Smith, John", "Smith\\, John"],
    ["a+b", "a\\+b"],
    [" lead", "\\ lead"],
    ["trail ", "trail\\ "],
    ["#hash", "\\#hash"],
    ['q"<>;', 'q\\"\\<\\>\\;'],
  ])("escapes the value %j as %j", (value, escaped) => {
    expect(escapeDnValue(value)).toBe(escaped);
    expect(parseDn(`cn=${escaped},dc=x`)[0]![0]!.value).toBe(value);
  });

  it("gives two spellings of one DN the same normal form", () => {
    expect(normalizeDnText("UID=Alice, OU=People,dc=Example,dc=ORG")).toBe(normalizeDnText("uid=alice,ou=people,dc=example,dc=org"));
    expect(normalizeDnText("cn=J\\2c Smith,dc=x")).toBe(normalizeDnText("cn=J\\, Smith,dc=x"));
  });

  it("refuses what is not a DN", () => {
    for (const bad of ["uid", "uid=a,", "=a", "uid=a\\", 'cn=a"b', "1uid=a"]) expect(normalizeDnText(bad)).toBeNull();
  });
});
