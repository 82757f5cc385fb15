import { describe, expect, it } from "vitest";
import { checkTarget, MAX_TARGET_LENGTH, targetFromParams } from "../../src/redirect-target.js";

const APP = "https://app.example.com";
const LOGIN = "https://login.example.com";
const LOCAL = "http://localhost:3000";
const allowed: ReadonlySet<string> = new Set([APP, LOGIN, LOCAL]);

describe("checkTarget refuses hostile targets", () => {
  const hostile: [string, string][] = [
    ["an unregistered host", "https://evil.net/"],
    ["a protocol-relative URL", "//evil.net/"],
    ["a protocol-relative URL to a registered host", "//app.example.com/"],
    ["slash-backslash", "/\\evil.net"],
    ["double backslash", "\\\\evil.net"],
    ["backslashes after the scheme", "https:\\\\evil.net"],
    ["a backslash before an @", "https://app.example.com\\@evil.net"],
    ["a registered host as userinfo", "https://app.example.com@evil.net/"],
    ["userinfo on a registered host", "https://user:pass@app.example.com/"],
    ["an empty userinfo", "https://@app.example.com/"],
    ["an encoded @ after the registered host", "https://app.example.com%40evil.net/"],
    ["an encoded @ before the registered host", "https://evil.net%40app.example.com/"],
    ["an encoded slash and @", "https://app.example.com%2F@evil.net"],
    ["a port then userinfo", "https://app.example.com:443@evil.net"],
    ["a look-alike suffix", "https://app.example.com.evil.net/"],
    ["a registered name as a prefix", "https://app.example.company/"],
    ["a registered name as a suffix", "https://evilapp.example.com/"],
    ["a trailing dot on the host", "https://app.example.com./"],
    ["another port", "https://app.example.com:8443/"],
    ["another port of a registered localhost", "http://localhost:3001/"],
    ["another scheme", "http://app.example.com/"],
    ["javascript:", "javascript:alert(1)"],
    ["javascript: with a registered URL in a comment", "JavaScript:alert(document.cookie)//https://app.example.com/"],
    ["data:", "data:text/html,<script>alert(1)</script>"],
    ["vbscript:", "vbscript:msgbox(1)"],
    ["ftp:", "ftp://app.example.com/"],
    ["file:", "file:///etc/passwd"],
    ["CR/LF header injection", "https://app.example.com/\r\nSet-Cookie: x=1"],
    ["a bare LF", "https://app.example.com/\nLocation: https://evil.net"],
    ["encoded CR/LF in the host", "https://app.example.com%0d%0aSet-Cookie:x=1/"],
    ["a tab inside the host", "https://app.exa\tmple.com/"],
    ["a leading space", " https://app.example.com/"],
    ["a trailing space", "https://app.example.com/ "],
    ["a NUL byte", "https://app.example.com/\u0000"],
    ["a C1 control character", "https://app.example.com/\u0085"],
    ["a Cyrillic look-alike host", "https://\u0430pp.example.com/"],
    ["a fullwidth look-alike host", "https://\uff41pp.example.com/"],
    ["a zero-width space in the host", "https://app.example.com\u200b/"],
    ["a soft hyphen in the host", "https://app.exam\u00adple.com/"],
    ["ideographic full stops in the host", "https://app\u3002example\u3002com/"],
    ["an ideographic full stop before an evil suffix", "https://app.example.com\u3002evil.net/"],
    ["an encoded dot in the host", "https://app%2eexample.com/"],
    ["an encoded dot before an evil suffix", "https://app.example.com%2eevil.net/"],
    ["a relative path", "/dashboard"],
    ["a bare word", "dashboard"],
    ["a scheme without slashes", "https:evil.net"],
    ["a scheme with one slash", "https:/evil.net"],
    ["an empty host", "https:///evil.net"],
    ["nothing after the scheme", "https://"],
    ["an empty string", ""],
    ["a registered URL in the fragment", "https://evil.net#https://app.example.com"],
    ["a registered URL in the query", "https://evil.net?https://app.example.com"],
    ["a registered URL in the path", "https://evil.net/https://app.example.com"],
    ["an IP literal", "https://[::1]:3000/"],
    ["an overly long target", `${APP}/${"a".repeat(MAX_TARGET_LENGTH)}`],
  ];

  it("has at least 30 hostile cases", () => {
    expect(hostile.length).toBeGreaterThanOrEqual(30);
  });

  it.each(hostile)("refuses %s", (_label, target) => {
    const result = checkTarget(target, allowed);
    expect(result.ok).toBe(false);
    expect(result).not.toHaveProperty("url");
  });

  it("never throws, whatever the input", () => {
    for (const target of ["%", "http://%", "https://[", "https://a:b:c", "\ud800", "http://\ud800/", "https://x/%zz"]) {
      expect(() => checkTarget(target, allowed)).not.toThrow();
    }
  });

  it("names the unregistered origin, so the error page can say what to register", () => {
    const result = checkTarget("https://other.example.org/x?y", allowed);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/not registered/), origin: "https://other.example.org" });
  });

  it("does not name an origin for a target that is not a plain URL", () => {
    expect(checkTarget("https://app.example.com@evil.net/", allowed)).toMatchObject({ ok: false, origin: null });
  });

  it("refuses everything when nothing is registered", () => {
    expect(checkTarget(`${APP}/`, new Set()).ok).toBe(false);
  });
});

describe("checkTarget allows registered origins", () => {
  it.each([
    ["a registered origin with a path and query", `${APP}/dashboard?tab=1&x=%20y`, `${APP}/dashboard?tab=1&x=%20y`],
    ["a registered origin without a path", APP, `${APP}/`],
    ["a registered origin with a fragment", `${APP}/a#section`, `${APP}/a#section`],
    ["the login server's own origin", `${LOGIN}/account`, `${LOGIN}/account`],
    ["a registered http origin with a port", `${LOCAL}/x?y=1`, `${LOCAL}/x?y=1`],
    ["the default port written out", "https://app.example.com:443/x", `${APP}/x`],
    ["an upper-case host", "https://APP.Example.com/x", `${APP}/x`],
    ["an encoded query that merely mentions another host", `${APP}/?next=https%3A%2F%2Fevil.net`, `${APP}/?next=https%3A%2F%2Fevil.net`],
  ])("allows %s", (_label, target, url) => {
    const result = checkTarget(target, allowed);
    expect(result).toEqual({ ok: true, url, origin: new URL(url).origin });
  });

  it("returns a URL whose origin is the registered one, never the raw text", () => {
    const result = checkTarget("HTTPS://app.example.com:443/p", allowed);
    expect(result.ok && new URL(result.url).origin).toBe(APP);
  });

  it("keeps encoded CR/LF in a path encoded, so it cannot split a Location header", () => {
    const result = checkTarget(`${APP}/%0d%0aSet-Cookie:%20x=1`, allowed);
    if (result.ok) expect(result.url).not.toMatch(/[\r\n]/);
  });
});

describe("targetFromParams (WebStack app + path + qs, or rd)", () => {
  it.each([
    [{ app: APP, path: "/a/b", qs: "?c=d" }, `${APP}/a/b?c=d`],
    [{ app: APP, path: "/a", qs: "c=d" }, `${APP}/a?c=d`],
    [{ app: APP, path: "/a", qs: "" }, `${APP}/a`],
    [{ app: APP }, APP],
    [{ rd: `${APP}/x` }, `${APP}/x`],
    [{ app: APP, path: "/from-app", rd: "https://evil.net" }, `${APP}/from-app`],
    [{ app: "", rd: `${APP}/x` }, `${APP}/x`],
  ])("builds the target from %j", (params, target) => {
    expect(targetFromParams(params)).toBe(target);
  });

  it.each([[{}], [{ app: "" }], [{ rd: "" }], [{ path: "/x", qs: "?y" }]])("names no target for %j", (params) => {
    expect(targetFromParams(params)).toBeNull();
  });

  const hostileParams: [string, Parameters<typeof targetFromParams>[0]][] = [
    ["a path starting with @", { app: APP, path: "@evil.net" }],
    ["a path starting with a dot", { app: APP, path: ".evil.net" }],
    ["a path starting with a port", { app: APP, path: ":8443/x" }],
    ["a path with a port and userinfo", { app: APP, path: ":443@evil.net" }],
    ["a path with an encoded @", { app: APP, path: "%40evil.net" }],
    ["a path with a backslash", { app: APP, path: "\\evil.net" }],
    ["a path that continues the host name", { app: APP, path: "x.evil.net/" }],
    ["a path with CR/LF", { app: APP, path: "/x\r\nLocation: https://evil.net" }],
    ["a query with CR/LF", { app: APP, path: "/", qs: "?a=1\r\nSet-Cookie: x=1" }],
    ["a protocol-relative app", { app: "//evil.net", path: "/" }],
    ["an unregistered app", { app: "https://evil.net", path: "/", qs: "?x=1" }],
    ["a look-alike app", { app: "https://app.example.com.evil.net" }],
    ["a javascript: app", { app: "javascript:alert(1)//", path: "" }],
    ["an unregistered rd", { rd: "https://evil.net/" }],
    ["a protocol-relative rd", { rd: "//evil.net" }],
  ];

  it.each(hostileParams)("refuses the combined target for %s", (_label, params) => {
    const target = targetFromParams(params);
    expect(target).not.toBeNull();
    expect(checkTarget(target!, allowed).ok).toBe(false);
  });

  it("keeps a query that looks like userinfo inside the registered origin", () => {
    const result = checkTarget(targetFromParams({ app: APP, path: "", qs: "@evil.net" })!, allowed);
    expect(result.ok && result.origin).toBe(APP);
  });
});
