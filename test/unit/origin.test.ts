import { describe, expect, it } from "vitest";
import { parseAppOrigin } from "../../src/origin.js";

describe("parseAppOrigin", () => {
  it.each([
    ["https://app.example.com", "https://app.example.com"],
    ["https://app.example.com/", "https://app.example.com"],
    ["https://app.example.com/some/path?q=1#frag", "https://app.example.com"],
    ["HTTPS://APP.Example.COM", "https://app.example.com"],
    ["https://app.example.com:443", "https://app.example.com"],
    ["http://app.example.com:80/", "http://app.example.com"],
    ["https://app.example.com:8443", "https://app.example.com:8443"],
    ["http://localhost:3000", "http://localhost:3000"],
    ["http://127.0.0.1:8080/x", "http://127.0.0.1:8080"],
    ["http://[::1]:3000", "http://[::1]:3000"],
  ])("reduces %j to %j", (text, origin) => {
    expect(parseAppOrigin(text)).toEqual({ origin });
  });

  it.each([
    ["javascript:alert(1)", /not an absolute http/],
    ["data:text/html,hi", /not an absolute http/],
    ["ftp://app.example.com", /not an absolute http/],
    ["file:///etc/passwd", /not an absolute http/],
    ["app.example.com", /not an absolute http/],
    ["word", /not an absolute http/],
    ["//app.example.com", /not an absolute http/],
    ["/path", /not an absolute http/],
    ["https:///nohost", /not an absolute http/],
    ["", /not an absolute http/],
    ["https://user:pw@app.example.com", /user name or password/],
    ["https://user@app.example.com", /user name or password/],
    ["https://app.example.com\\evil", /backslashes/],
    ["https://app.example.com evil", /spaces/],
    ["https://app.example.com\r\n", /control characters/],
    ["\thttps://app.example.com", /control characters/],
    ["https://exa mple.com", /spaces/],
    ["https://app.example.com:99999", /not a valid URL/],
    ["https://a,b.example.com", /valid host name/],
    ["https://a;b.example.com", /valid host name/],
    ["https://*.example.com", /valid host name/],
  ])("refuses %j", (text, message) => {
    const result = parseAppOrigin(text);
    expect(result).not.toHaveProperty("origin");
    expect((result as { problem: string }).problem).toMatch(message);
  });

  it("keeps control characters out of the explanation", () => {
    const result = parseAppOrigin("javascript:\x1b]0;pwned\x07") as { problem: string };
    expect(result.problem).not.toMatch(/[\x00-\x1f\x7f]/);
  });
});
