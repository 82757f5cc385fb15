/** The config file: good and bad files, the precedence rule, secrets by reference, and the default data directory. */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { defaultDataDir } from "../../src/data-dir.js";
import { expectError, ssoctl, tempDir } from "../cli/helpers.js";

function writeFile(text: string, name = "ssoctl.yaml"): string {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, text);
  return file;
}

/** Only the file: no variables from the test run's environment. */
function load(file: string, env: NodeJS.ProcessEnv = {}): ReturnType<typeof loadConfig> {
  return loadConfig({ configFlag: file, env: { HOME: "/home/test", ...env } });
}

describe("good config files", () => {
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ["an empty file (every default)", "", { "server.port": 8081, "server.host": "127.0.0.1", "server.session_ttl": 43200, "server.redirect": true }],
    ["comments only", "# nothing yet\n", { "server.title": "Single sign-on" }],
    [
      "every kind of value",
      "server:\n  host: 0.0.0.0\n  port: 9000\n  public_url: https://login.example.com\n  session_ttl: 8h\n  redirect: false\n  trusted_proxy: [10.0.0.0/8, \"::1\"]\n  metrics_allow: 192.168.1.5\n  cookie_domain: example.com\n  lockout: 30m\n",
      {
        "server.host": "0.0.0.0",
        "server.port": 9000,
        "server.public_url": "https://login.example.com",
        "server.session_ttl": 28800,
        "server.redirect": false,
        "server.trusted_proxy": ["10.0.0.0/8", "::1"],
        "server.metrics_allow": ["192.168.1.5"],
        "server.cookie_domain": "example.com",
        "server.lockout": 1800,
      },
    ],
    ["an empty section", "server:\nstorage:\n", { "server.port": 8081 }],
    ["desired-state sections beside the settings", "server:\n  port: 8082\nusers: []\napps: []\n", { "server.port": 8082 }],
    ["a PostgreSQL database", "storage:\n  database_url: postgres://ssoctl@db.example.com/ssoctl\n", { "storage.database_url": "postgres://ssoctl@db.example.com/ssoctl" }],
  ];
  it.each(cases)("%s", (_what, text, expected) => {
    const config = load(writeFile(text));
    for (const [key, value] of Object.entries(expected)) expect([key, config.get(key)]).toEqual([key, value]);
    expect(config.warnings).toEqual([]);
  });

  it("takes a relative data_dir and *_file from the config file's directory", () => {
    const file = writeFile("storage:\n  data_dir: data\n  database_url_file: db.secret\n");
    fs.writeFileSync(path.join(path.dirname(file), "db.secret"), "postgres://ssoctl:s3cret@db.example.com/ssoctl\n");
    const config = load(file);
    expect(config.get("storage.data_dir")).toBe(path.join(path.dirname(file), "data"));
    expect(config.get("storage.database_url")).toBe("postgres://ssoctl:s3cret@db.example.com/ssoctl");
    expect(config.warnings).toEqual([]);
  });

  it("never shows what a secret's file holds, even when it is wrong", () => {
    const file = writeFile("storage:\n  database_url_file: db.secret\n");
    fs.writeFileSync(path.join(path.dirname(file), "db.secret"), "hunter2-not-a-url\n");
    expect(() => load(file)).toThrow(/ssoctl\.yaml:2: storage\.database_url_file: expected a PostgreSQL URL like postgres:\/\//);
    expect(() => load(file)).not.toThrow(/hunter2/);
    const secretFile = path.join(path.dirname(file), "db.secret");
    expectError(ssoctl(["config", "show"], { env: { SSOCTL_DATABASE_URL_FILE: secretFile } }), 2, /SSOCTL_DATABASE_URL_FILE: .*db\.secret does not hold a PostgreSQL URL/);
    expect(ssoctl(["config", "show"], { env: { SSOCTL_DATABASE_URL_FILE: secretFile } }).stderr).not.toContain("hunter2");
  });

  it("warns about a secret written inline, and not about one without a password", () => {
    expect(load(writeFile("storage:\n  database_url: postgres://ssoctl:s3cret@db/ssoctl\n")).warnings).toEqual([
      expect.stringMatching(/ssoctl\.yaml:2: storage\.database_url is written inline; put it in a file named by database_url_file .* or in SSOCTL_DATABASE_URL/),
    ]);
    expect(load(writeFile("storage:\n  database_url: postgres://ssoctl@db/ssoctl\n")).warnings).toEqual([]);
  });
});

describe("bad config files: one error naming the file, the line and what was expected", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["an unknown key", "server:\n  port: 8081\n  prot: 9000\n", /ssoctl\.yaml:3: unknown key "server\.prot"; expected one of host, port, public_url/],
    ["an unknown section", "server:\n  port: 1\nsevrer:\n  port: 2\n", /ssoctl\.yaml:3: unknown section "sevrer"; expected one of server, storage, users/],
    ["a port that is text", "server:\n  port: eighty\n", /ssoctl\.yaml:2: server\.port: expected a whole number from 0 to 65535/],
    ["a port out of range", "server:\n\n  port: 70000\n", /ssoctl\.yaml:3: server\.port: expected a whole number from 0 to 65535/],
    ["a bad URL", "server:\n  public_url: login.example.com\n", /ssoctl\.yaml:2: server\.public_url: expected a URL starting with http:\/\/ or https:\/\//],
    ["a URL of another scheme", "server:\n  public_url: ftp://login.example.com\n", /:2: server\.public_url: expected a URL starting with http/],
    ["a bad duration", "server:\n  session_ttl: 12 hours\n", /ssoctl\.yaml:2: server\.session_ttl: expected a duration like 90s, 15m, 12h or 30d/],
    ["a duration as a number", "server:\n  lockout: 600\n", /:2: server\.lockout: expected a duration like 90s/],
    ["a boolean as text", "server:\n  redirect: \"no\"\n", /:2: server\.redirect: expected true or false/],
    ["a bad range in a list", "server:\n  trusted_proxy:\n    - 10.0.0.0/8\n    - 10.0.0.0/99\n", /:3: server\.trusted_proxy: "10\.0\.0\.0\/99" is not an IP address or CIDR range/],
    ["a section that is a list", "server:\n  - port: 1\n", /:2: server: expected a mapping of keys/],
    ["a bad cookie domain", "server:\n  cookie_domain: \"exa mple.com\"\n", /:2: server\.cookie_domain: expected a domain name/],
    ["a database URL of another engine", "storage:\n  database_url: mysql://db/ssoctl\n", /:2: storage\.database_url: mysql:\/\/db\/ssoctl is not a PostgreSQL URL; expected postgres:\/\/USER/],
    ["a missing secret file", "storage:\n  database_url_file: nowhere.secret\n", /:2: storage\.database_url_file: cannot read .*nowhere\.secret: no such file or directory/],
    ["a duplicate key", "server:\n  port: 1\n  port: 2\n", /ssoctl\.yaml:3: not valid YAML: Map keys must be unique/],
    ["broken YAML", "server:\n  port: [1\n", /ssoctl\.yaml:\d: not valid YAML/],
    ["a list at the top", "- server\n", /ssoctl\.yaml:1: expected a mapping of sections/],
    ["an alias bomb", `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${"*a, ".repeat(10)}]\nc: &c [${"*b, ".repeat(10)}]\nd: [${"*c, ".repeat(100)}]\n`, /YAML aliases expand past the limit of 100/],
  ];
  it.each(cases)("%s", (_what, text, message) => {
    const file = writeFile(text);
    expect(() => load(file)).toThrow(message);
    const result = ssoctl(["config", "check", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(file);
  });

  it("refuses a secret given both inline and by file", () => {
    const file = writeFile("storage:\n  database_url: postgres://db/x\n  database_url_file: db.secret\n");
    fs.writeFileSync(path.join(path.dirname(file), "db.secret"), "postgres://db/y\n");
    expect(() => load(file)).toThrow(/ssoctl\.yaml:3: storage\.database_url_file: either database_url or database_url_file, not both/);
  });

  it("lists every problem in `config check`, one per line, in file order", () => {
    const file = writeFile("server:\n  port: x\n  prot: 1\n  session_ttl: forever\n");
    const result = ssoctl(["config", "check", file]);
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines.map((line) => /:(\d+): /.exec(line)?.[1])).toEqual(["3", "4", "2"]);
  });

  it("checks desired-state sections beside the settings as apply would", () => {
    const file = writeFile("server:\n  port: 8081\napps:\n  - name: Wiki\n    url: https://wiki.example.com/wiki\n");
    const result = ssoctl(["config", "check", file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ssoctl\.yaml:5: apps\.0\.url: "https:\/\/wiki\.example\.com\/wiki" has a path/);
  });

  it("starts nothing on a bad file: serve exits 1 before opening a port", () => {
    const file = writeFile("server:\n  port: 0\n  title: 42\n");
    expectError(ssoctl(["serve", "--config", file]), 1, /ssoctl\.yaml:3: server\.title: expected a text/);
  });

  it("refuses a --config that does not exist", () => {
    expectError(ssoctl(["user", "list", "--config", "/nonexistent/ssoctl.yaml"]), 1, /cannot read \/nonexistent\/ssoctl\.yaml: no such file or directory/);
  });
});

describe("precedence: flag > environment > file > default, in every command", () => {
  function shown(args: string[], env: Record<string, string> = {}): Record<string, { value: string; origin: string }> {
    const result = ssoctl(["config", "show", "--json", ...args], { env });
    expect(result.stderr).toBe("");
    return Object.fromEntries((JSON.parse(result.stdout) as Array<{ key: string; value: string; origin: string }>).map((row) => [row.key, row]));
  }

  it("reports each value's origin", () => {
    const file = writeFile("server:\n  port: 9001\n  title: From the file\n  public_url: https://file.example.com\n");
    const rows = shown(["--config", file, "--port", "9003"], { SSOCTL_PORT: "9002", SSOCTL_PUBLIC_URL: "https://env.example.com" });
    expect(rows["server.port"]).toMatchObject({ value: "9003", origin: "flag --port" });
    expect(rows["server.public_url"]).toMatchObject({ value: "https://env.example.com", origin: "env SSOCTL_PUBLIC_URL" });
    expect(rows["server.title"]).toMatchObject({ value: "From the file", origin: `file ${file}:3` });
    expect(rows["server.cookie_name"]).toMatchObject({ value: "ssoctl", origin: "default" });
  });

  it("finds the file through SSOCTL_CONFIG, and masks secrets", () => {
    const file = writeFile("storage:\n  database_url_file: db.secret\n");
    fs.writeFileSync(path.join(path.dirname(file), "db.secret"), "postgres://ssoctl:pa55word@db.example.com/ssoctl\n");
    const result = ssoctl(["config", "show"], { env: { SSOCTL_CONFIG: file } });
    expect(result.stdout).toMatch(/storage\.database_url +postgres:\/\/ssoctl:\*\*\*@db\.example\.com\/ssoctl +file .*ssoctl\.yaml:2/);
    expect(result.stdout + result.stderr).not.toContain("pa55word");
  });

  it("user invite prints a whole link with the file's public_url, and the environment's over it", () => {
    const dir = path.join(tempDir(), "data");
    const file = writeFile(`server:\n  public_url: https://file.example.com\nstorage:\n  data_dir: ${dir}\n`);
    expect(ssoctl(["init", "--config", file]).code).toBe(0);
    expect(fs.existsSync(path.join(dir, "ssoctl.db"))).toBe(true);
    expect(ssoctl(["user", "invite", "bob", "--config", file]).stdout).toMatch(/https:\/\/file\.example\.com\/invite\//);
    expect(ssoctl(["user", "invite", "carol"], { env: { SSOCTL_CONFIG: file, SSOCTL_PUBLIC_URL: "https://env.example.com" } }).stdout).toMatch(/https:\/\/env\.example\.com\/invite\//);
  });

  it("refuses a bad variable as a usage error naming it", () => {
    expectError(ssoctl(["config", "show"], { env: { SSOCTL_PORT: "http" } }), 2, /^ssoctl: SSOCTL_PORT "http" is not a whole number from 0 to 65535\n$/);
    expectError(ssoctl(["serve", "--session-ttl", "soon"]), 2, /--session-ttl "soon" is not a duration like 90s/);
  });
});

describe("the default data directory", () => {
  it("is /var/lib/ssoctl under a service manager or when it exists, else the XDG data directory", () => {
    const never = (): boolean => false;
    expect(defaultDataDir({ INVOCATION_ID: "abc", HOME: "/home/u" }, never)).toBe("/var/lib/ssoctl");
    expect(defaultDataDir({ JOURNAL_STREAM: "8:123", HOME: "/home/u" }, never)).toBe("/var/lib/ssoctl");
    expect(defaultDataDir({ HOME: "/home/u" }, (dir) => dir === "/var/lib/ssoctl")).toBe("/var/lib/ssoctl");
    expect(defaultDataDir({ HOME: "/home/u", XDG_DATA_HOME: "/data/u" }, never)).toBe("/data/u/ssoctl");
    expect(defaultDataDir({ HOME: "/home/u" }, never)).toBe("/home/u/.local/share/ssoctl");
    // A relative XDG_DATA_HOME is invalid by the XDG spec and ignored.
    expect(defaultDataDir({ HOME: "/home/u", XDG_DATA_HOME: "rel" }, never)).toBe("/home/u/.local/share/ssoctl");
  });

  it("is said in serve --help", () => {
    expect(ssoctl(["serve", "--help"]).stdout).toMatch(/\/var\/lib\/ssoctl when it exists or under a service manager/);
  });
});
