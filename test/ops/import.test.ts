/**
 * `ssoctl user import`: real `htpasswd` output (apache2-utils) and Authelia's documented
 * digests, imported through the CLI, then signed in through the real login server (its
 * password worker verifies the foreign hashes and the first sign-in stores argon2id).
 * Needs `tsc -p .` first.
 */
import apacheMd5 from "apache-md5";
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyForeignHash } from "../../src/foreign-hashes.js";
import { makeDataDir, signIn, startServer, type TestDataDir } from "../support/server.js";
import { expectError, ssoctl } from "../cli/helpers.js";

const aprMd5 = apacheMd5 as unknown as (password: string, salt?: string) => string;

let data: TestDataDir;
let work: string;

beforeEach(async () => {
  data = await makeDataDir();
  work = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-import-"));
});

afterEach(() => {
  data.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

/** One line of real `htpasswd -n` output. */
function htpasswd(flag: string, username: string, password: string): string {
  const result = spawnSync("htpasswd", [`-nb${flag}`, username, password], { encoding: "utf8" });
  if (result.error) throw new Error(`htpasswd (apache2-utils) is needed: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`htpasswd -nb${flag} failed: ${result.stderr}`);
  return result.stdout.trim();
}

function writeFile(name: string, content: string | Buffer): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, content);
  return file;
}

function importFile(file: string, ...args: string[]) {
  return ssoctl(["user", "import", file, ...args, "-d", data.dataDir.dir]);
}

function listUsers(): Array<{ username: string; name: string; email: string; groups: string[]; disabled: boolean }> {
  const listed = ssoctl(["user", "list", "--json", "-d", data.dataDir.dir]);
  expect(listed.code).toBe(0);
  return JSON.parse(listed.stdout);
}

const HTPASSWD_USERS = [
  { flag: "B", username: "bcrypt-user", password: "bcrypt pass 1", format: "bcrypt" },
  { flag: "m", username: "apr1-user", password: "apr1 pass 2", format: "apr1" },
  { flag: "s", username: "sha1-user", password: "sha1 pass 3", format: "sha1" },
  { flag: "2", username: "sha256-user", password: "sha256 pass 4", format: "sha256-crypt" },
  { flag: "5", username: "sha512-user", password: "sha512 pass 5", format: "sha512-crypt" },
];

describe("ssoctl user import --format htpasswd", () => {
  it("imports what htpasswd writes, refuses DES and plain text by line, and each user signs in through the real server; the first sign-in stores argon2id", async () => {
    const lines = HTPASSWD_USERS.map((u) => htpasswd(u.flag, u.username, u.password));
    lines.push(htpasswd("d", "des-user", "despass"), htpasswd("p", "plain-user", "plainpass"));
    const file = writeFile("users.htpasswd", `# exported from the old proxy\n${lines.join("\n")}\n`);

    const result = importFile(file, "--format", "htpasswd");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Imported 5 new user(s) from ${file} (htpasswd); hashes: 1 bcrypt, 1 apr1, 1 sha1, 1 sha256-crypt, 1 sha512-crypt.`);
    expect(result.stdout).toMatch(/line 7 \(des-user\): DES crypt .* refused/);
    expect(result.stdout).toMatch(/line 8 \(plain-user\): a plain-text password is refused/);
    // The report names lines and users, never a hash or a password.
    expect(result.stdout).not.toMatch(/\$2y\$|\$apr1\$|\{SHA\}|despass|plainpass/);
    expect(listUsers().map((u) => u.username).sort()).toEqual(HTPASSWD_USERS.map((u) => u.username).sort());

    const server = await startServer(data);
    try {
      for (const user of HTPASSWD_USERS) {
        const foreign = (await server.store.getUser(user.username))!.passwordHash;
        const wrong = await signIn(server, { username: user.username, password: `${user.password}x` });
        expect({ user: user.username, status: wrong.status }).toEqual({ user: user.username, status: 401 });
        expect((await server.store.getUser(user.username))!.passwordHash).toBe(foreign);

        const right = await signIn(server, { username: user.username, password: user.password });
        expect({ user: user.username, status: right.status }).toEqual({ user: user.username, status: 303 });
        const stored = (await server.store.getUser(user.username))!.passwordHash;
        expect(stored).toMatch(/^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
        // And the new hash works: the next sign-in goes through argon2 alone.
        expect((await signIn(server, { username: user.username, password: user.password })).status).toBe(303);
      }
      for (const refused of ["des-user", "plain-user"]) {
        expect((await signIn(server, { username: refused, password: refused === "des-user" ? "despass" : "plainpass" })).status).toBe(401);
      }
    } finally {
      await server.close();
    }
  });

  it("keeps existing users unless --replace, writes nothing with --dry-run, and says so", () => {
    const file = writeFile("two.htpasswd", `${htpasswd("m", "alice", "new password")}\n${htpasswd("m", "bob", "bob password")}\n`);
    expect(importFile(writeFile("one.htpasswd", `${htpasswd("m", "Alice", "old password")}\n`), "--format", "htpasswd").code).toBe(0);

    const dry = importFile(file, "--format", "htpasswd", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("Dry run, nothing written: would import 1 new user(s)");
    expect(dry.stdout).toContain("Alice: already exists (--replace overwrites it)");
    expect(listUsers().map((u) => u.username)).toEqual(["Alice"]);

    const kept = importFile(file, "--format", "htpasswd");
    expect(kept.stdout).toContain("Imported 1 new user(s)");
    expect(kept.stdout).toContain("Alice: already exists");
    const aliceHash = () => readHash("Alice");
    expect(verifyForeignHash(aliceHash(), "old password")).toBe(true);

    const replaced = importFile(file, "--format", "htpasswd", "--replace");
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain("Imported 0 new user(s) and replaced 2");
    expect(replaced.stdout).toContain("Replaced (sessions ended): Alice, bob");
    expect(verifyForeignHash(aliceHash(), "new password")).toBe(true);
    expect(listUsers().map((u) => u.username)).toEqual(["Alice", "bob"]);
  });

  it("a truncated file, duplicate names and a huge line: each refused with its line, the rest imported", () => {
    const good = htpasswd("m", "carol", "carol password");
    const cut = htpasswd("B", "dave", "dave password").slice(0, 30);
    const file = writeFile(
      "bad.htpasswd",
      [htpasswd("m", "erin", "one"), good, htpasswd("m", "ERIN", "two"), `frank:${"A".repeat(10_000)}`, "no colon here", cut].join("\n"),
    );
    const result = importFile(file, "--format", "htpasswd");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Imported 1 new user(s)");
    expect(result.stdout).toMatch(/line 1 \(erin\): the name appears 2 times \(line 1, line 3; names ignore case\); none of them is imported/);
    expect(result.stdout).toMatch(/line 4: longer than 4096 characters/);
    expect(result.stdout).toMatch(/line 5: not USERNAME:HASH/);
    expect(result.stdout).toMatch(/line 6 \(dave\): an unknown or malformed hash/);
    expect(result.stdout).not.toContain("AAAAAAAAAA");
    expect(listUsers().map((u) => u.username)).toEqual(["carol"]);
  });

  it("refuses a file that is not an import file, with nothing imported", () => {
    expectError(importFile(writeFile("binary", Buffer.from([0x61, 0x3a, 0x00, 0xff])), "--format", "htpasswd"), 1, /is not a text file/);
    expectError(importFile(writeFile("latin1", Buffer.from([0x61, 0x3a, 0xe9, 0x0a])), "--format", "htpasswd"), 1, /is not UTF-8 text/);
    expectError(importFile(path.join(work, "missing"), "--format", "htpasswd"), 1, /cannot read .*missing: no such file/);
    expectError(importFile(writeFile("x", "a:b\n"), "--format", "passwd"), 2, /--format.*passwd.*invalid|Allowed choices/i);
    expectError(importFile(writeFile("y", "a:b\n")), 2, /--format/);
    const refused = importFile(writeFile("all-bad", "plain:text\nalso:plain\n"), "--format", "htpasswd");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/nothing imported: every entry .* was refused/);
    expect(listUsers()).toEqual([]);
  });

  it("imports 10,000 htpasswd users; every stored hash verifies with its user's password, and a sample signs in through the real server", async () => {
    const count = 10_000;
    const passwordOf = (i: number) => `pw-${i}-${(i * 7919) % 10007}`;
    const lines: string[] = [];
    // The first lines from htpasswd itself, the rest in the same apr1 format (htpasswd's default) from a library:
    // 10,000 htpasswd processes would take longer than the import.
    for (let i = 0; i < 5; i++) lines.push(htpasswd("m", `user${i}`, passwordOf(i)));
    for (let i = 5; i < count; i++) lines.push(`user${i}:${aprMd5(passwordOf(i))}`);
    const file = writeFile("big.htpasswd", lines.join("\n") + "\n");

    const result = ssoctl(["user", "import", file, "--format", "htpasswd", "-d", data.dataDir.dir]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain(`Imported ${count} new user(s)`);

    const server = await startServer(data);
    try {
      let verified = 0;
      for await (const user of server.store.iterateUsers()) {
        const i = Number(user.username.slice(4));
        const hash = (await server.store.getUser(user.username))!.passwordHash;
        if (verifyForeignHash(hash, passwordOf(i))) verified += 1;
      }
      expect(verified).toBe(count);
      for (const i of [0, 4, 5, 4321, count - 1]) {
        expect({ i, status: (await signIn(server, { username: `user${i}`, password: passwordOf(i) })).status }).toEqual({ i, status: 303 });
      }
    } finally {
      await server.close();
    }
  }, 120_000);
});

function readHash(username: string): string {
  const db = new Database(data.dataDir.dbPath, { readonly: true });
  try {
    return db.prepare<[string], string>("SELECT password_hash FROM users WHERE username = ?").pluck().get(username)!;
  } finally {
    db.close();
  }
}

/** Digests from Authelia's documentation: the users file template ("password"), `authelia hash-password` ("yourpassword"), the pbkdf2 client secret ("insecure_secret"). */
const AUTHELIA_ARGON2ID = "$argon2id$v=19$m=65536,t=3,p=2$BpLnfgDsc2WD8F2q$o/vzA4myCqZZ36bUGsDY//8mKUYNZZaR0t4MFFSs+iM";
const AUTHELIA_SHA512 = "$6$rounds=50000$BpLnfgDsc2WD8F2q$be7OyobnQ8K09dyDiGjY.cULh4yDePMh6CUMpLwF4WHTJmLcPE2ijM2ZsqZL.hVAANojEfDu3sU9u9uD7AeBJ/";
const AUTHELIA_PBKDF2 = "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng";

describe("ssoctl user import --format authelia", () => {
  it("imports display name, email, groups and disabled; argon2id, sha2crypt and pbkdf2 users sign in through the real server", async () => {
    const file = writeFile(
      "users_database.yml",
      `# Authelia file backend
users:
  john:
    displayname: "John Doe"
    password: "${AUTHELIA_ARGON2ID}"
    email: john.doe@authelia.com
    groups:
      - admins
      - dev
  harry:
    displayname: "Harry Potter"
    password: '${AUTHELIA_SHA512}'
    email: harry.potter@authelia.com
    groups: []
  bob:
    displayname: "Bob Dylan"
    password: "${AUTHELIA_PBKDF2}"
    email: bob.dylan@authelia.com
    groups: [dev]
  james:
    displayname: "James Dean"
    password: "${AUTHELIA_ARGON2ID}"
    email: james.dean@authelia.com
    disabled: true
  scott:
    displayname: "Scott"
    password: "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
`,
    );
    const result = importFile(file, "--format", "authelia");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Imported 4 new user(s)");
    expect(result.stdout).toContain("hashes: 2 argon2id, 1 sha512-crypt, 1 pbkdf2");
    expect(result.stdout).toMatch(/user "scott" \(scott\): scrypt hashes are not supported/);
    expect(listUsers()).toEqual([
      expect.objectContaining({ username: "bob", name: "Bob Dylan", email: "bob.dylan@authelia.com", groups: ["dev"], disabled: false }),
      expect.objectContaining({ username: "harry", name: "Harry Potter", email: "harry.potter@authelia.com", groups: [], disabled: false }),
      expect.objectContaining({ username: "james", name: "James Dean", disabled: true }),
      expect.objectContaining({ username: "john", name: "John Doe", email: "john.doe@authelia.com", groups: ["admins", "dev"], disabled: false }),
    ]);
    expect(readHash("john")).toBe(AUTHELIA_ARGON2ID);

    const server = await startServer(data);
    try {
      for (const [username, password] of [["john", "password"], ["harry", "yourpassword"], ["bob", "insecure_secret"]] as const) {
        expect({ username, status: (await signIn(server, { username, password: `${password}!` })).status }).toEqual({ username, status: 401 });
        expect({ username, status: (await signIn(server, { username, password })).status }).toEqual({ username, status: 303 });
        expect(readHash(username)).toMatch(/^\$argon2id\$v=19\$m=65536,p=4,t=3\$/);
      }
      expect((await signIn(server, { username: "james", password: "password" })).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it("refuses an alias bomb, a user given twice, and a file that is not Authelia's, importing nothing", () => {
    const bomb = ["users:", '  a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (const [from, to] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"], ["f", "g"]]) {
      bomb.push(`  ${to}: &${to} [${Array(10).fill(`*${from}`).join(",")}]`);
    }
    expectError(importFile(writeFile("bomb.yml", bomb.join("\n") + "\n"), "--format", "authelia"), 1, /too many YAML aliases .*alias bomb.*nothing was imported/);

    const twice = `users:\n  john:\n    password: "${AUTHELIA_ARGON2ID}"\n  john:\n    password: "${AUTHELIA_ARGON2ID}"\n`;
    expectError(importFile(writeFile("twice.yml", twice), "--format", "authelia"), 1, /a key given twice \(line 4\): is a user listed twice\?; nothing was imported/);

    expectError(importFile(writeFile("list.yml", "- john\n- harry\n"), "--format", "authelia"), 1, /no `users:` map/);
    expectError(importFile(writeFile("broken.yml", 'users:\n  john:\n    password: "unterminated\n'), "--format", "authelia"), 1, /not a usable Authelia users file: .* at line \d+; nothing was imported/);
    const htpasswdAsYaml = importFile(writeFile("h.yml", `${htpasswd("m", "x", "y")}\n`), "--format", "authelia");
    expect(htpasswdAsYaml.code).toBe(1);
    expect(listUsers()).toEqual([]);

    const caseTwice = `users:\n  john:\n    password: "${AUTHELIA_ARGON2ID}"\n  John:\n    password: "${AUTHELIA_ARGON2ID}"\n  ok:\n    password: "${AUTHELIA_ARGON2ID}"\n    groups: "admins"\n`;
    const partly = importFile(writeFile("case.yml", caseTwice), "--format", "authelia");
    expect(partly.stdout).toMatch(/user "john" \(john\): the name appears 2 times/);
    expect(partly.stdout).toMatch(/user "ok": groups is not a list of group names/);
    expect(listUsers()).toEqual([]);
  });
});
