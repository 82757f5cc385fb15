import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { headerTextProblem, isEmailAddress, parseMailbox } from "../../src/mail/address.js";
import { describeTransport, resolveMailSettings } from "../../src/mail/settings.js";

describe("email addresses", () => {
  it.each([
    ["alice@example.com", true],
    ["alice.b+tag@mail.example.co.uk", true],
    ["o'brien@example.org", true],
    ["user@[127.0.0.1]", true],
    ["jörg@bücher.example", false],
    ["user@bücher.example", true],
    ["alice", false],
    ["@example.com", false],
    ["alice@", false],
    ["alice@localhost", false],
    ["alice@@example.com", false],
    ["alice @example.com", false],
    [".alice@example.com", false],
    ["al..ice@example.com", false],
    ["alice@-example.com", false],
    ["alice@example.com\r\nBcc: evil@example.net", false],
    ["Alice <alice@example.com>", false],
    ["alice@example.com,bob@example.com", false],
    ["a".repeat(65) + "@example.com", false],
  ])("%j is an address: %s", (text, expected) => {
    expect(isEmailAddress(text)).toBe(expected);
  });

  it("reads a display name and an address", () => {
    expect(parseMailbox("Example sign-in <sso@example.com>", "mail.from")).toEqual({ name: "Example sign-in", address: "sso@example.com" });
    expect(parseMailbox('"Example" <sso@example.com>', "mail.from")).toEqual({ name: "Example", address: "sso@example.com" });
    expect(parseMailbox("sso@example.com", "mail.from")).toEqual({ name: "", address: "sso@example.com" });
  });

  it.each([
    ["Evil\r\nBcc: victim@example.net <sso@example.com>", /line break/],
    ["Name <not an address>", /is not an email address/],
    ['Na"me <sso@example.com>', /display name/],
  ])("refuses the mailbox %j", (text, message) => {
    expect(() => parseMailbox(text, "mail.from")).toThrow(message);
  });

  it("refuses header text with a line break or a control character", () => {
    expect(headerTextProblem("Hello\r\nBcc: x@example.com", "the subject")).toMatch(/line break/);
    expect(headerTextProblem("Hello\u0000", "the subject")).toMatch(/control character/);
    expect(headerTextProblem("Héllo wörld", "the subject")).toBeNull();
  });
});

describe("the mail section", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-mail-settings-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const passwordFile = path.join(dir, "smtp-password");
  fs.writeFileSync(passwordFile, "s3cret\n", { mode: 0o600 });
  const caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(caFile, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

  it("is off without the section", () => {
    expect(resolveMailSettings(undefined)).toBeNull();
  });

  it("reads SMTP with STARTTLS by default, the password from its file", () => {
    const settings = resolveMailSettings({ from: "SSO <sso@example.com>", smtp: { host: "mail.example.com", user: "sso", password_file: passwordFile, ca_file: caFile, timeout: "20s" } }, {});
    expect(settings?.transport).toMatchObject({ kind: "smtp", host: "mail.example.com", port: 587, starttls: true, tls: false, user: "sso", password: "s3cret", timeoutMs: 20_000 });
    expect(describeTransport(settings!.transport)).toBe("SMTP mail.example.com:587 (STARTTLS, AUTH)");
  });

  it("takes the password from SSOCTL_MAIL_SMTP_PASSWORD when there is no file", () => {
    const settings = resolveMailSettings({ from: "sso@example.com", smtp: { host: "mail.example.com", tls: true, user: "sso" } }, { SSOCTL_MAIL_SMTP_PASSWORD: "from-env" });
    expect(settings?.transport).toMatchObject({ port: 465, tls: true, starttls: false, password: "from-env" });
  });

  it("reads the file kind", () => {
    expect(resolveMailSettings({ from: "sso@example.com", file: { directory: dir } }, {})?.transport).toEqual({ kind: "file", directory: dir });
  });

  it.each([
    [{ smtp: { host: "h.example" } }, /mail.from is required/],
    [{ from: "sso@example.com" }, /exactly one of mail.smtp/],
    [{ from: "sso@example.com", smtp: { host: "h.example" }, file: { directory: "/tmp" } }, /exactly one of mail.smtp/],
    [{ from: "not-an-address", smtp: { host: "h.example" } }, /not an email address/],
    [{ from: "sso@example.com", smtp: {} }, /mail.smtp.host is required/],
    [{ from: "sso@example.com", smtp: { host: "h.example", port: 70000 } }, /not a port number/],
    [{ from: "sso@example.com", smtp: { host: "h.example", tls: true, starttls: true } }, /exclude each other/],
    [{ from: "sso@example.com", smtp: { host: "h.example", user: "sso" } }, /needs a password/],
    [{ from: "sso@example.com", smtp: { host: "h.example", user: "sso", password_file: "/nonexistent/pw" } }, /cannot be read \(ENOENT\)/],
    [{ from: "sso@example.com", smtp: { host: "h.example", starttls: false, user: "sso", password_file: "PW" } }, /in clear/],
    [{ from: "sso@example.com", smtp: { host: "h.example", ca_file: "PW" } }, /holds no PEM certificate/],
    [{ from: "sso@example.com", smtp: { host: "h.example", timeout: "forever" } }, /mail.smtp.timeout/],
    [{ from: "sso@example.com", smtp: { host: "h.example", password: "inline" } }, /mail.smtp.password is not a setting/],
    [{ from: "sso@example.com", file: {} }, /mail.file.directory is required/],
    [{ from: "sso@example.com", smtp: { host: "evil\r\nRCPT TO:<x@example.net>" } }, /not a host name/],
  ])("refuses %j", (section, message) => {
    const withFiles = JSON.parse(JSON.stringify(section).replaceAll('"PW"', JSON.stringify(passwordFile)));
    expect(() => resolveMailSettings(withFiles, {})).toThrow(message);
  });
});
