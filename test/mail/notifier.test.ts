import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Notifier } from "../../src/mail/notifier.js";
import { resolveMailSettings, type MailSettings } from "../../src/mail/settings.js";
import { MailDeliveryError, type MailTransport } from "../../src/mail/delivery.js";
import { headersOf, htmlPartOf, selfSignedCertificate, startSmtpServer, textPartOf, type TestSmtpServer } from "../support/smtp.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-mail-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const site = { title: "Example <SSO>", publicUrl: "https://sso.example.com" };
const alice = { address: "alice@example.com", name: "Alice Liddell", username: "alice" };

let servers: TestSmtpServer[] = [];
let notifiers: Notifier[] = [];
afterEach(async () => {
  for (const n of notifiers) await n.outbox.close(0);
  for (const s of servers) await s.close();
  servers = [];
  notifiers = [];
});

function notifierFor(settings: MailSettings, options: { retryDelaysMs?: number[]; viewsDir?: string; transport?: MailTransport; limit?: number } = {}): { notifier: Notifier; log: string[] } {
  const log: string[] = [];
  const notifier = new Notifier(settings, {
    ...site,
    viewsDir: options.viewsDir,
    ...(options.transport ? { transport: options.transport } : {}),
    outbox: { retryDelaysMs: options.retryDelaysMs ?? [], log: (line) => log.push(line), ...(options.limit ? { limit: options.limit } : {}) },
  });
  notifiers.push(notifier);
  return { notifier, log };
}

function smtpSettings(port: number, extra: Record<string, unknown> = {}): MailSettings {
  const settings = resolveMailSettings({ from: "Example SSO <sso@example.com>", smtp: { host: "127.0.0.1", port, starttls: false, ...extra } }, {})!;
  return settings;
}

describe("SMTP", () => {
  it("sends over STARTTLS with a self-signed certificate the config trusts, logging in", async () => {
    const tls = selfSignedCertificate();
    expect(new X509Certificate(tls.cert).checkHost("localhost")).toBe("localhost");
    const server = await startSmtpServer({ tls, auth: { user: "mailer", password: "s3cret" } });
    servers.push(server);
    const caFile = path.join(dir, "smtp-ca.pem");
    fs.writeFileSync(caFile, tls.cert);
    const passwordFile = path.join(dir, "smtp-password");
    fs.writeFileSync(passwordFile, "s3cret\n", { mode: 0o600 });
    const settings = resolveMailSettings({ from: "Example SSO <sso@example.com>", smtp: { host: "localhost", port: server.port, starttls: true, user: "mailer", password_file: passwordFile, ca_file: caFile } }, {})!;
    const { notifier } = notifierFor(settings);
    expect(notifier.send("notice", { ...alice, name: "Alice <b>" }, { headline: "Your password was changed", username: "alice", what: "the password was changed on the account page", when: "Thu, 03 Dec 2026 10:00:00 GMT", addr: "192.0.2.7", browser: "<script>alert(1)</script>", advice: "reset it" })).toBe(true);
    const [mail] = await server.waitFor(1);
    expect(mail!.secure).toBe(true);
    expect(mail!.user).toBe("mailer");
    expect(mail!.from).toBe("sso@example.com");
    expect(mail!.to).toEqual(["alice@example.com"]);
    const headers = headersOf(mail!.raw);
    expect(headers.subject).toBe("Example <SSO>: Your password was changed");
    expect(headers.from).toBe("Example SSO <sso@example.com>");
    expect(headers["auto-submitted"]).toBe("auto-generated");
    expect(headers["message-id"]).toMatch(/^<[0-9a-f]{32}@sso\.example\.com>$/);
    expect(Date.parse(headers.date!)).toBeGreaterThan(Date.now() - 60_000);
    const text = textPartOf(mail!.raw);
    expect(text).toContain("Your password was changed on the account alice at Example <SSO> (https://sso.example.com).");
    expect(text).toContain("From: 192.0.2.7 (<script>alert(1)</script>)");
    const html = htmlPartOf(mail!.raw);
    expect(html).toContain("Example &lt;SSO&gt;");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).not.toContain("<script>");
    await notifier.outbox.idle();
    expect(notifier.outbox.counts.sent).toBe(1);
  });

  it("fails, logged, when the server's certificate is not trusted", async () => {
    const server = await startSmtpServer({ tls: selfSignedCertificate() });
    servers.push(server);
    const { notifier, log } = notifierFor(smtpSettings(server.port, { host: "localhost", starttls: true }));
    notifier.send("test", alice, {});
    await notifier.outbox.idle();
    expect(notifier.outbox.counts).toMatchObject({ sent: 0, failed: 1 });
    const failed = log.map((l) => JSON.parse(l)).find((e) => e.event === "mail.failed");
    expect(failed.error).toMatch(/certificate/);
    expect(failed).toMatchObject({ kind: "test", user: "alice", domain: "example.com" });
    expect(JSON.stringify(log)).not.toContain("alice@");
    expect(server.received).toHaveLength(0);
  });

  it("gives up at once on a 5xx answer, without retrying", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    server.behave("reject");
    const { notifier, log } = notifierFor(smtpSettings(server.port), { retryDelaysMs: [10, 10] });
    notifier.send("test", alice, {});
    await notifier.outbox.idle();
    expect(notifier.outbox.counts).toMatchObject({ sent: 0, failed: 1, retried: 0 });
    expect(log.join("")).toMatch(/"event":"mail.failed".*550/);
  });

  it("retries a 4xx answer and sends once the server accepts", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    server.behave("tempfail-once");
    const { notifier, log } = notifierFor(smtpSettings(server.port), { retryDelaysMs: [50, 50, 50] });
    notifier.send("test", alice, {});
    await notifier.outbox.idle();
    expect(log.join("")).toMatch(/"event":"mail.retry".*451/);
    expect(notifier.outbox.counts).toMatchObject({ sent: 1, failed: 0, retried: 1 });
    expect(server.received).toHaveLength(1);
  });

  it("gives up on a server that never answers, without holding up the caller", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    server.behave("hang");
    const settings = smtpSettings(server.port);
    if (settings.transport.kind === "smtp") settings.transport.timeoutMs = 300;
    const { notifier, log } = notifierFor(settings);
    const queued = notifier.send("test", alice, {});
    // Returned before any delivery was tried.
    expect(queued).toBe(true);
    expect(notifier.outbox.pending).toBe(1);
    await notifier.outbox.idle();
    expect(notifier.outbox.counts).toMatchObject({ sent: 0, failed: 1 });
    expect(log.join("")).toMatch(/"event":"mail.failed".*(timeout|ETIMEDOUT)/i);
  });

  it("fails, logged, when nothing listens", async () => {
    const server = await startSmtpServer();
    const port = server.port;
    await server.close();
    const { notifier, log } = notifierFor(smtpSettings(port));
    notifier.send("test", alice, {});
    await notifier.outbox.idle();
    expect(notifier.outbox.counts.failed).toBe(1);
    expect(log.join("")).toMatch(/ECONNREFUSED/);
  });

  it("answers with the server's reply when sending at once", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    const { notifier } = notifierFor(smtpSettings(server.port));
    await expect(notifier.sendNow("test", alice, {})).resolves.toMatch(/^250 .*OK: message queued/);
    server.behave("reject");
    await expect(notifier.sendNow("test", alice, {})).rejects.toThrow(MailDeliveryError);
  });
});

describe("refused messages", () => {
  it("refuses a line break in the recipient's name: no mail, counted, logged", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    const { notifier, log } = notifierFor(smtpSettings(server.port));
    expect(notifier.send("test", { ...alice, name: "Alice\r\nBcc: victim@example.net" }, {})).toBe(false);
    expect(notifier.send("test", { ...alice, address: "not an address" }, {})).toBe(false);
    expect(notifier.send("test", { ...alice, address: "alice@example.com\r\nRCPT TO:<victim@example.net>" }, {})).toBe(false);
    await notifier.outbox.idle();
    expect(notifier.outbox.counts).toMatchObject({ refused: 3, sent: 0 });
    expect(log.filter((l) => l.includes('"mail.refused"'))).toHaveLength(3);
    expect(server.received).toHaveLength(0);
  });

  it("keeps a value with a line break inside the subject line, adding no header", async () => {
    const server = await startSmtpServer();
    servers.push(server);
    const { notifier } = notifierFor(smtpSettings(server.port));
    notifier.send("notice", alice, { headline: "Hi\r\nBcc: victim@example.net", username: "alice", what: "x", when: "y", addr: "z", browser: "b", advice: "a" });
    const [mail] = await server.waitFor(1);
    expect(mail!.to).toEqual(["alice@example.com"]);
    const headers = headersOf(mail!.raw);
    expect(headers.bcc).toBeUndefined();
    expect(headers.subject).toBe("Example <SSO>: Hi Bcc: victim@example.net");
  });
});

describe("the outbox", () => {
  it("holds at most its bound; past it messages are dropped and counted", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const transport: MailTransport = { description: "a slow server", deliver: async () => (await gate, "250 ok"), verify: async () => "ok" };
    const { notifier, log } = notifierFor(resolveMailSettings({ from: "sso@example.com", file: { directory: dir } }, {})!, { transport, limit: 3 });
    const results = Array.from({ length: 5 }, () => notifier.send("test", alice, {}));
    expect(results).toEqual([true, true, true, false, false]);
    expect(notifier.outbox.counts.dropped).toBe(2);
    expect(log.filter((l) => l.includes('"mail.dropped"'))).toHaveLength(2);
    release();
    await notifier.outbox.idle();
    expect(notifier.outbox.counts.sent).toBe(3);
  });
});

describe("the file kind", () => {
  it("writes each message as an .eml file, private to the server's user", async () => {
    const mailDir = fs.mkdtempSync(path.join(dir, "out-"));
    const { notifier } = notifierFor(resolveMailSettings({ from: "SSO <sso@example.com>", file: { directory: mailDir } }, {})!);
    notifier.send("test", alice, {});
    notifier.send("test", { ...alice, address: "bob@example.com", username: "bob" }, {});
    await notifier.outbox.idle();
    const files = fs.readdirSync(mailDir);
    expect(files).toHaveLength(2);
    expect(files.every((f) => f.endsWith(".eml"))).toBe(true);
    const raw = fs.readFileSync(path.join(mailDir, files[0]!), "utf8");
    expect(raw).toContain("\r\n");
    expect(headersOf(raw)).toMatchObject({ subject: "Example <SSO>: test message", "auto-submitted": "auto-generated" });
    expect(textPartOf(raw)).toContain("This is a test message from Example <SSO> (https://sso.example.com).");
    expect(fs.statSync(path.join(mailDir, files[0]!)).mode & 0o777).toBe(0o600);
  });

  it("logs a failure, never a crash, when the directory cannot be written", async () => {
    const notADirectory = path.join(dir, "a-file");
    fs.writeFileSync(notADirectory, "");
    const { notifier, log } = notifierFor(resolveMailSettings({ from: "sso@example.com", file: { directory: notADirectory } }, {})!, { retryDelaysMs: [5] });
    expect(notifier.send("test", alice, {})).toBe(true);
    await notifier.outbox.idle();
    expect(notifier.outbox.counts).toMatchObject({ failed: 1, retried: 1 });
    expect(log.join("")).toMatch(/cannot write to .*a-file: ENOTDIR/);
    await expect(notifier.outbox.transport.verify()).rejects.toThrow(/ENOTDIR/);
  });
});

describe("templates", () => {
  it("an admin's override in <views>/mail/ replaces the built-in one", async () => {
    const views = fs.mkdtempSync(path.join(dir, "views-"));
    fs.mkdirSync(path.join(views, "mail"));
    fs.writeFileSync(path.join(views, "mail", "test.txt.ejs"), "Subject: Hello from <%= title %>\n\nOur own words for <%= publicUrl %>.\n");
    const mailDir = fs.mkdtempSync(path.join(dir, "out-"));
    const { notifier } = notifierFor(resolveMailSettings({ from: "sso@example.com", file: { directory: mailDir } }, {})!, { viewsDir: views });
    notifier.send("test", alice, {});
    await notifier.outbox.idle();
    const raw = fs.readFileSync(path.join(mailDir, fs.readdirSync(mailDir)[0]!), "utf8");
    expect(headersOf(raw).subject).toBe("Hello from Example <SSO>");
    expect(textPartOf(raw)).toContain("Our own words for https://sso.example.com.");
  });

  it("a template that does not compile fails at start-up, naming the file", () => {
    const views = fs.mkdtempSync(path.join(dir, "views-"));
    fs.mkdirSync(path.join(views, "mail"));
    fs.writeFileSync(path.join(views, "mail", "notice.html.ejs"), "<% if ( %>");
    expect(() => notifierFor(resolveMailSettings({ from: "sso@example.com", file: { directory: dir } }, {})!, { viewsDir: views })).toThrow(/notice\.html\.ejs does not compile/);
  });
});
