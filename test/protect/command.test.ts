import { Command } from "commander";
import * as fs from "node:fs";
import { connect } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { protectCommand, runProtect, type ProtectCliOptions } from "../../src/cli/commands/protect.js";
import { run } from "../../src/cli/main.js";
import { readSecret, resolveDataDir } from "../../src/data-dir.js";
import { UsageError } from "../../src/errors.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { LOGIN_URL, listen, makeToken, newKey, type Running } from "../guard/support.js";

let upstream: Running;
let tmp: string;

beforeAll(async () => {
  upstream = await listen((req, res) => res.end(`hello ${req.headers["remote-user"]}`));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-protect-"));
});
afterAll(async () => {
  await upstream.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function cliOptions(extra: Partial<ProtectCliOptions> = {}): ProtectCliOptions {
  return {
    upstream: upstream.url,
    loginUrl: LOGIN_URL,
    host: "127.0.0.1",
    port: "0",
    logoutUrl: "/",
    cookieName: "ssoctl",
    dataDir: undefined,
    ...extra,
  };
}

/** Starts runProtect, returns its URL, the lines it logged and a stop function that waits for it to finish. */
async function startCli(options: ProtectCliOptions, env: NodeJS.ProcessEnv = {}): Promise<{ url: string; lines: string[]; stop: () => Promise<void> }> {
  const controller = new AbortController();
  const lines: string[] = [];
  let listening!: (url: string) => void;
  const url = new Promise<string>((resolve) => (listening = resolve));
  const done = runProtect(options, { stopSignal: controller.signal, env, stderr: (line) => lines.push(line), onListening: listening });
  const started = await Promise.race([url, done.then(() => "")]);
  return {
    url: started,
    lines,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

describe("ssoctl protect (command)", () => {
  it.each([
    ["a bad --port", { port: "http" }, /--port "http" is not a port number/],
    ["a port out of range", { port: "70000" }, /--port/],
    ["a bad --login-url", { loginUrl: "login" }, /^--login-url "login" is not a URL/],
    ["a bad --upstream", { upstream: "ftp://x" }, /^--upstream "ftp:\/\/x" is not an http/],
    ["an --app-url with a path", { appUrl: "http://a.example.com/x" }, /^--app-url .* must be an origin only/],
    ["a bad --cookie-name", { cookieName: "a;b" }, /^--cookie-name/],
    ["a bad --cookie-domain", { cookieDomain: "a b" }, /^--cookie-domain/],
    ["a --max-connections of 0", { maxConnections: "0" }, /^--max-connections "0" is not a whole number of at least 1/],
    ["a --max-connections that is not a number", { maxConnections: "lots" }, /^--max-connections "lots"/],
    ["the same anonymous and logout parameter", { anonymousParameter: "x", logoutParameter: "x" }, /--anonymous-parameter and --logout-parameter must differ/],
  ])("refuses %s with a usage error", async (_name, change, message) => {
    const promise = runProtect(cliOptions(change), { stopSignal: AbortSignal.abort(), env: { SSOCTL_SECRET_KEY: newKey() }, stderr: () => {} });
    await expect(promise).rejects.toBeInstanceOf(UsageError);
    await expect(runProtect(cliOptions(change), { stopSignal: AbortSignal.abort(), env: { SSOCTL_SECRET_KEY: newKey() }, stderr: () => {} })).rejects.toThrow(message);
  });

  it("refuses to start without a key, saying where one can come from", async () => {
    const env = { SSOCTL_DATA_DIR: path.join(tmp, "missing") };
    const promise = runProtect(cliOptions(), { stopSignal: AbortSignal.abort(), env, stderr: () => {} });
    await expect(promise).rejects.toThrow(/no secret key: .*--data-dir DIR .*--key-file FILE.*SSOCTL_SECRET_KEY/);
  });

  it("refuses a key that is not one", async () => {
    const promise = runProtect(cliOptions(), { stopSignal: AbortSignal.abort(), env: { SSOCTL_DATA_DIR: path.join(tmp, "none"), SSOCTL_SECRET_KEY: "hunter2" }, stderr: () => {} });
    await expect(promise).rejects.toThrow(/the key from SSOCTL_SECRET_KEY is not a key as `ssoctl key show` prints it/);
  });

  it("refuses --key-file together with --data-dir", async () => {
    const promise = runProtect(cliOptions({ keyFile: "k", dataDir: tmp }), { stopSignal: AbortSignal.abort(), env: {}, stderr: () => {} });
    await expect(promise).rejects.toThrow(/--key-file and --data-dir/);
  });

  it("guards with a key from --key-file, logs where it listens and stops when told", async () => {
    const key = newKey();
    const keyFile = path.join(tmp, "key.txt");
    fs.writeFileSync(keyFile, `${key}\n`);
    const cli = await startCli(cliOptions({ keyFile }), { SSOCTL_DATA_DIR: path.join(tmp, "none") });
    try {
      expect(cli.lines).toEqual([`ssoctl protect: listening on ${cli.url}, guarding ${upstream.url} (no data directory: sessions are not checked)`]);
      const anonymous = await request(`${cli.url}/`);
      await anonymous.body.dump();
      expect(anonymous.statusCode).toBe(302);
      const signedIn = await request(`${cli.url}/`, { headers: { cookie: `ssoctl=${await makeToken(key, { username: "dana" })}` } });
      expect(await signedIn.body.text()).toBe("hello dana");
    } finally {
      await cli.stop();
    }
    await expect(request(`${cli.url}/`)).rejects.toThrow();
  });

  it("closes connections beyond --max-connections unanswered", async () => {
    const cli = await startCli(cliOptions({ maxConnections: "1" }), { SSOCTL_DATA_DIR: path.join(tmp, "none"), SSOCTL_SECRET_KEY: newKey() });
    const { port } = new URL(cli.url);
    const held = connect(Number(port), "127.0.0.1");
    try {
      await new Promise<void>((resolve) => held.once("connect", () => resolve()));
      await new Promise((resolve) => setImmediate(resolve));
      await expect(request(`${cli.url}/`)).rejects.toThrow();
    } finally {
      held.destroy();
      await cli.stop();
    }
  });

  it("with a data directory, uses its key and checks sessions so revocation takes effect at once", async () => {
    const dir = path.join(tmp, "data");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      expect(await run(["init", "--data-dir", dir])).toBe(0);
    } finally {
      stdout.mockRestore();
    }
    const dataDir = resolveDataDir(dir);
    const key = readSecret(dataDir);
    const store = openSqliteStore(dataDir.dbPath);
    const now = Math.floor(Date.now() / 1000);
    await store.createUser({ username: "erin", name: "Erin", email: "", groups: [], passwordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA" }, now);
    expect(await store.createSession({ id: "live-session", username: "erin", anonymous: false, createdAt: now, expiresAt: now + 3600, clientAddr: "", userAgent: "" })).toBe(true);

    const cli = await startCli(cliOptions({ dataDir: dir }));
    try {
      expect(cli.lines[0]).toContain("(checking sessions)");
      const cookie = `ssoctl=${await makeToken(key, { username: "erin", sessionId: "live-session" })}`;
      const before = await request(`${cli.url}/`, { headers: { cookie } });
      expect(await before.body.text()).toBe("hello erin");

      await store.deleteSession("live-session");
      const after = await request(`${cli.url}/`, { headers: { cookie } });
      await after.body.dump();
      expect(after.statusCode).toBe(302);
    } finally {
      await cli.stop();
      await store.close();
    }
  });

  it("runs until SIGTERM when started from the command line", async () => {
    const program = new Command("ssoctl").exitOverride().addCommand(protectCommand().exitOverride());
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const env = process.env.SSOCTL_SECRET_KEY;
    process.env.SSOCTL_SECRET_KEY = newKey();
    const previousDataDir = process.env.SSOCTL_DATA_DIR;
    process.env.SSOCTL_DATA_DIR = path.join(tmp, "none");
    try {
      const done = program.parseAsync(["protect", "--upstream", upstream.url, "--login-url", LOGIN_URL, "--port", "0"], { from: "user" });
      await vi.waitFor(() => expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toContain("listening on http://127.0.0.1:"));
      process.emit("SIGTERM");
      await done;
    } finally {
      stderr.mockRestore();
      if (env === undefined) delete process.env.SSOCTL_SECRET_KEY;
      else process.env.SSOCTL_SECRET_KEY = env;
      if (previousDataDir === undefined) delete process.env.SSOCTL_DATA_DIR;
      else process.env.SSOCTL_DATA_DIR = previousDataDir;
    }
  });

  it("takes no key on the command line", async () => {
    const program = new Command("ssoctl").exitOverride().addCommand(protectCommand().exitOverride().configureOutput({ writeErr: () => {} }));
    await expect(
      program.parseAsync(["protect", "--upstream", upstream.url, "--login-url", LOGIN_URL, "--key", "abc"], { from: "user" }),
    ).rejects.toMatchObject({ code: "commander.unknownOption" });
    await expect(program.parseAsync(["protect", "--login-url", LOGIN_URL], { from: "user" })).rejects.toMatchObject({
      code: "commander.missingMandatoryOptionValue",
    });
  });
});

describe("ssoctl protect --data-dir: the login server's session check", () => {
  const HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA";
  let dir: string;
  let key: string;
  let store: ReturnType<typeof openSqliteStore>;
  let cli: Awaited<ReturnType<typeof startCli>>;

  beforeAll(async () => {
    dir = path.join(tmp, "checked");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      expect(await run(["init", "--data-dir", dir])).toBe(0);
    } finally {
      stdout.mockRestore();
    }
    key = readSecret(resolveDataDir(dir));
    store = openSqliteStore(resolveDataDir(dir).dbPath);
    const now = Math.floor(Date.now() / 1000);
    for (const username of ["erin", "frank"]) {
      await store.createUser({ username, name: "", email: "", groups: [], passwordHash: HASH }, now);
      expect(await store.createSession({ id: `${username}-session`, username, anonymous: false, createdAt: now, expiresAt: now + 3600, clientAddr: "", userAgent: "" })).toBe(true);
    }
    cli = await startCli(cliOptions({ dataDir: dir }));
  });
  afterAll(async () => {
    await cli.stop();
    await store.close();
  });

  async function statusWith(token: string): Promise<number> {
    const response = await request(`${cli.url}/`, { headers: { cookie: `ssoctl=${token}` } });
    await response.body.dump();
    return response.statusCode;
  }

  it("lets the session's own user through (the control case)", async () => {
    expect(await statusWith(await makeToken(key, { username: "erin", sessionId: "erin-session" }))).toBe(200);
  });

  it("refuses a token signed with the key whose user does not own its session", async () => {
    expect(await statusWith(await makeToken(key, { username: "frank", sessionId: "erin-session" }))).toBe(302);
  });

  it("refuses a token from another issuer than the login server --login-url names, and says so once", async () => {
    const foreign = await makeToken(key, { username: "erin", sessionId: "erin-session", issuer: "https://other.example" });
    expect(await statusWith(foreign)).toBe(302);
    expect(await statusWith(foreign)).toBe(302);
    expect(cli.lines.filter((line) => line.includes("other.example"))).toEqual([
      'ssoctl protect: refused a token issued by "https://other.example"; expected "http://127.0.0.1:8081" (the --public-url implied by --login-url)',
    ]);
  });

  it("accepts a token under a key rotated a moment ago, without waiting for its poll", async () => {
    const { rotateKey } = await import("../../src/keyring.js");
    const { keyId } = await import("../../src/token.js");
    const now = Math.floor(Date.now() / 1000);
    const { kid } = await rotateKey(resolveDataDir(dir), store, 3600, now);
    const fresh = readSecret(resolveDataDir(dir));
    expect(keyId(fresh)).toBe(kid);
    expect(await statusWith(await makeToken(fresh, { username: "erin", sessionId: "erin-session" }))).toBe(200);
    // The previous key still verifies during its grace.
    expect(await statusWith(await makeToken(key, { username: "erin", sessionId: "erin-session" }))).toBe(200);
  });
});

describe("ssoctl protect and anonymous tokens", () => {
  it("lets no anonymous token made by another app's guard through, with or without its own anonymous access", async () => {
    const key = newKey();
    const keyFile = path.join(tmp, "anonymous-key.txt");
    fs.writeFileSync(keyFile, `${key}\n`);
    const { loginRedirect } = await import("../../src/guard/index.js");
    const guard = loginRedirect({ loginUrl: LOGIN_URL, appUrl: "http://127.0.0.1:8090", secretKey: key, anonymousParameterName: "guest" });
    const otherApp = await listen((req, res) => guard(req, res, () => res.end("other app")));
    const minted = await request(`${otherApp.url}/?guest`);
    await minted.body.dump();
    await otherApp.close();
    const cookie = String(minted.headers["set-cookie"]).split(";")[0]!;
    expect(cookie).toMatch(/^ssoctl=ey/);

    for (const extra of [{}, { anonymousParameter: "guest" }]) {
      const cli = await startCli(cliOptions({ keyFile, ...extra }), { SSOCTL_DATA_DIR: path.join(tmp, "none") });
      try {
        const response = await request(`${cli.url}/`, { headers: { cookie } });
        const text = await response.body.text();
        expect(response.statusCode).toBe(302);
        expect(text).not.toContain("hello");
        // Its own anonymous token, for its own visitors, still works.
        if ("anonymousParameter" in extra) {
          const own = await request(`${cli.url}/?guest`, { headers: { cookie } });
          expect(await own.body.text()).toBe("hello anonymous");
          const ownCookie = String(own.headers["set-cookie"]).split(";")[0]!;
          const again = await request(`${cli.url}/`, { headers: { cookie: ownCookie } });
          expect(await again.body.text()).toBe("hello anonymous");
        }
      } finally {
        await cli.stop();
      }
    }
  });
});
