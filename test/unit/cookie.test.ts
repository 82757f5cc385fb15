import { describe, expect, it } from "vitest";
import { clearCookieHeader, cookieDomainProblem, isValidCookieDomain, isValidCookieName, readCookie, setCookieHeader } from "../../src/cookie.js";

describe("readCookie", () => {
  it.each([
    ["ssoctl=abc", "abc"],
    ["a=1; ssoctl=abc; b=2", "abc"],
    ["a=1;ssoctl=abc;b=2", "abc"],
    ["  ssoctl = abc  ", "abc"],
    ['ssoctl="abc"', "abc"],
    ["ssoctl=a.b-c_d", "a.b-c_d"],
    ["ssoctl=", ""],
    ["ssoctl=x=y", "x=y"],
    ["garbage; ssoctl=abc", "abc"],
    ["ssoctl=first; ssoctl=second", "first"],
  ])("reads the cookie from %j", (header, value) => {
    expect(readCookie(header, "ssoctl")).toBe(value);
  });

  it("reads from a header given as an array", () => {
    expect(readCookie(["a=1", "ssoctl=tok"], "ssoctl")).toBe("tok");
  });

  it.each([
    [undefined],
    [""],
    ["other=1"],
    ["ssoctlx=1"],
    ["xssoctl=1"],
    ["SSOCTL=1"],
    ["ssoctl"],
    [";;;"],
    ["=ssoctl"],
  ])("finds no cookie in %j", (header) => {
    expect(readCookie(header, "ssoctl")).toBeNull();
  });

  it.each([
    "\u0000\u0001\u0002",
    "ssoctl=%E0%A4%A",
    "ssoctl=\ud800",
    '"""',
    "=;=;=;=",
    ";".repeat(10000),
    "a".repeat(20000),
    "ssoctl=" + "x".repeat(20000),
    "\r\n\r\n",
    "ssoctl=\"",
    "__proto__=1; constructor=2",
  ])("never throws on garbage (%#)", (header) => {
    expect(() => readCookie(header, "ssoctl")).not.toThrow();
    expect(() => readCookie([header, header], "ssoctl")).not.toThrow();
    expect(() => readCookie(header, "__proto__")).not.toThrow();
  });

  it("refuses an oversized header instead of scanning it", () => {
    expect(readCookie("ssoctl=abc; pad=" + "x".repeat(20000), "ssoctl")).toBeNull();
  });
});

function attributes(header: string): string[] {
  return header.split("; ");
}

describe("setCookieHeader", () => {
  it("sets Path=/, HttpOnly, SameSite=Lax and Max-Age, and no Secure or Domain on plain http", () => {
    const header = setCookieHeader({ name: "ssoctl", secure: false }, "tok", 43200);
    const parts = attributes(header);
    expect(parts[0]).toBe("ssoctl=tok");
    expect(parts).toEqual(expect.arrayContaining(["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=43200"]));
    expect(header).not.toMatch(/Secure/);
    expect(header).not.toMatch(/Domain=/);
  });

  it("adds Secure when the public URL is https", () => {
    expect(attributes(setCookieHeader({ name: "ssoctl", secure: true }, "tok", 60))).toContain("Secure");
  });

  it("adds Domain only when a cookie domain is given", () => {
    expect(attributes(setCookieHeader({ name: "s", secure: true, domain: ".example.com" }, "v", 60))).toContain(
      "Domain=.example.com",
    );
    expect(setCookieHeader({ name: "s", secure: true, domain: "" }, "v", 60)).not.toMatch(/Domain/);
  });

  it("never writes a negative or fractional Max-Age", () => {
    expect(attributes(setCookieHeader({ name: "s", secure: false }, "v", -5))).toContain("Max-Age=0");
    expect(attributes(setCookieHeader({ name: "s", secure: false }, "v", 90.9))).toContain("Max-Age=90");
  });

  it("round-trips through readCookie", () => {
    const header = setCookieHeader({ name: "ssoctl", secure: true }, "eyJ.a-b_c.d", 60);
    const pair = header.split("; ")[0]!;
    expect(readCookie(`other=1; ${pair}`, "ssoctl")).toBe("eyJ.a-b_c.d");
  });
});

describe("clearCookieHeader", () => {
  it("clears with the same name, path and domain and Max-Age=0", () => {
    const options = { name: "ssoctl", secure: true, domain: "example.com" };
    const set = attributes(setCookieHeader(options, "tok", 60));
    const clear = attributes(clearCookieHeader(options));
    expect(clear[0]).toBe("ssoctl=");
    expect(clear).toContain("Max-Age=0");
    for (const attribute of ["Path=/", "Domain=example.com", "Secure", "HttpOnly", "SameSite=Lax"]) {
      expect(set).toContain(attribute);
      expect(clear).toContain(attribute);
    }
  });

  it("has no Domain for a host-only cookie", () => {
    expect(clearCookieHeader({ name: "ssoctl", secure: false })).not.toMatch(/Domain/);
  });
});

describe("cookie option checks", () => {
  it.each(["ssoctl", "__Host-x", "a.b", "SID"])("accepts cookie name %j", (name) => {
    expect(isValidCookieName(name)).toBe(true);
  });
  it.each(["", "a b", "a;b", "a=b", "a,b", "é", "x".repeat(65), "a\r\nSet-Cookie"])("refuses cookie name %j", (name) => {
    expect(isValidCookieName(name)).toBe(false);
  });
  it.each(["example.com", ".example.com", "a.b-c.example", "localhost"])("accepts cookie domain %j", (domain) => {
    expect(isValidCookieDomain(domain)).toBe(true);
  });
  it.each(["", ".", "-a.com", "a..com", "exa mple.com", "example.com;", "a.com\r\n", "*.example.com", "example.com:443"])(
    "refuses cookie domain %j",
    (domain) => {
      expect(isValidCookieDomain(domain)).toBe(false);
    },
  );
});

describe("cookieDomainProblem", () => {
  it.each([
    ["sso.example.com", "example.com", null],
    ["sso.example.com", ".example.com", null],
    ["example.com", "example.com", null],
    ["SSO.Example.com", "example.com", null],
    ["sso.example.net", "example.com", /not inside --cookie-domain example\.com/],
    ["badexample.com", "example.com", /not inside/],
    ["127.0.0.1", "example.com", /IP address/],
    ["[::1]", "example.com", /IP address/],
  ])("a login server at %s with --cookie-domain %s: %s", (host, domain, problem) => {
    const answer = cookieDomainProblem(host, domain);
    if (problem === null) expect(answer).toBeNull();
    else expect(answer?.reason).toMatch(problem);
  });
});
