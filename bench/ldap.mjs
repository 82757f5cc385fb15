/**
 * LDAP benchmarks: ssoctl's LDAP interface against OpenLDAP slapd serving the same 10,000 users
 * (one user by uid, the search an app makes at every sign-in), in the same run, with the same client
 * (ldapts) and the same number of connections.
 */
import Database from "better-sqlite3";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { Client } from "ldapts";
import { USER, makeDataDir } from "./lib/fixture.mjs";
import { CLI, runCommand, startApp, startLoginServer, track } from "./lib/proc.mjs";
import { median } from "./lib/load.mjs";

const BASE = "dc=example,dc=org";
const USERS = 10_000;
const CONNECTIONS = 8;
const APP = "http://ldap-app.bench.test";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForLdap(url, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Client({ url, timeout: 1000, connectTimeout: 1000 });
    try {
      await client.search("", { scope: "base", filter: "(objectClass=*)" });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer: ${error.message}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await client.unbind().catch(() => {});
    }
  }
}

const name = (i) => `user${String(i).padStart(5, "0")}`;
const directoryPassword = (i) => `directory pass ${i} horse`;

function cookiesOf(response) {
  return response.headers.getSetCookie().map((line) => line.split(";")[0]).join("; ");
}

/** The login form for `username`, CSRF cookie and token included (the token is stateless, so reusable). */
async function loginForm(serverUrl, username, password) {
  const page = await fetch(`${serverUrl}/login`);
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (csrf === undefined) throw new Error(`no CSRF token on the login page (${page.status})`);
  return { headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookiesOf(page), origin: serverUrl }, body: new URLSearchParams({ csrf, username, password }).toString() };
}

/** Completed sign-ins per second (each a 303 or a 200 "signed in" page) from `clients` loops. */
async function signInRate(serverUrl, form, clients, seconds) {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let ok = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        const response = await fetch(`${serverUrl}/login`, { method: "POST", headers: form.headers, body: form.body, redirect: "manual" });
        await response.arrayBuffer();
        if (response.status !== 303 && response.status !== 200) throw new Error(`a sign-in answered ${response.status}`);
        ok += 1;
      }
    }),
  );
  return ok / ((performance.now() - started) / 1000);
}

/** Searches per second for one random user by uid over `CONNECTIONS` bound connections. */
async function searchRate(url, bind, seconds) {
  const clients = [];
  for (let c = 0; c < CONNECTIONS; c += 1) {
    const client = new Client({ url, timeout: 10_000 });
    await client.bind(bind.dn, bind.password);
    clients.push(client);
  }
  let done = 0;
  let seed = 12345;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const uid = name(seed % USERS);
        const { searchEntries } = await client.search(`ou=people,${BASE}`, { scope: "sub", filter: `(uid=${uid})`, attributes: ["uid", "cn", "mail", "memberOf"] });
        if (searchEntries.length !== 1) throw new Error(`${url}: (uid=${uid}) found ${searchEntries.length}`);
        done += 1;
      }
    }),
  );
  const rate = done / ((performance.now() - started) / 1000);
  for (const client of clients) await client.unbind();
  return rate;
}

function slapdConfig(dir) {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
sizelimit unlimited
database mdb
maxsize 1073741824
suffix "${BASE}"
rootdn "cn=admin,${BASE}"
rootpw admin-secret
directory ${dir}/db
index objectClass eq
index uid eq
index member,memberOf eq
overlay memberof
access to attrs=userPassword by anonymous auth by self read by * none
access to * by * read
`;
}

/** The same entries as ssoctl's interface shows, as LDIF for slapadd (memberOf written out: slapadd runs no overlay). */
function ldif() {
  const lines = [`dn: ${BASE}`, "objectClass: top", "objectClass: dcObject", "objectClass: organization", "dc: example", "o: example", ""];
  for (const ou of ["people", "groups"]) lines.push(`dn: ou=${ou},${BASE}`, "objectClass: organizationalUnit", `ou: ${ou}`, "");
  for (let i = 0; i < USERS; i += 1) {
    lines.push(`dn: uid=${name(i)},ou=people,${BASE}`, "objectClass: inetOrgPerson", `uid: ${name(i)}`, `cn: User ${i}`, `sn: ${i}`, `displayName: User ${i}`, `mail: ${name(i)}@example.org`, `memberOf: cn=staff,ou=groups,${BASE}`, ...(i < 16 ? [`userPassword: ${directoryPassword(i)}`] : []), "");
  }
  lines.push(`dn: cn=staff,ou=groups,${BASE}`, "objectClass: groupOfNames", "cn: staff");
  for (let i = 0; i < USERS; i += 1) lines.push(`member: uid=${name(i)},ou=people,${BASE}`);
  lines.push("");
  return lines.join("\n");
}

export async function runLdapBenchmarks({ record, log, cleanups, rounds, seconds }) {
  // ssoctl: 10,000 users written straight into a fresh data directory (searches need no real hashes).
  const data = await makeDataDir("ldap");
  cleanups.push(data.cleanup);
  const db = new Database(data.dbPath);
  const now = Math.floor(Date.now() / 1000);
  const insert = db.prepare("INSERT INTO users (username, name, email, groups, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < USERS; i += 1) insert.run(name(i), `User ${i}`, `${name(i)}@example.org`, "staff", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaA", now);
  })();
  db.close();
  await runCommand([CLI, "app", "add", APP, "--data-dir", data.dataDir]);
  const account = JSON.parse((await runCommand([CLI, "ldap", "account", "add", "bench", "--app", APP, "--base-dn", BASE, "--json", "--data-dir", data.dataDir])).stdout);
  const ssoctlPort = await freePort();
  const server = await startLoginServer(data.dataDir, { extraArgs: ["--ldap-listen", `127.0.0.1:${ssoctlPort}`, "--ldap-base-dn", BASE] });
  cleanups.push(server.stop);
  const ssoctlUrl = `ldap://127.0.0.1:${ssoctlPort}`;
  await waitForLdap(ssoctlUrl);

  // slapd: the same entries, loaded offline, on its own port.
  const dir = path.join(data.root, "slapd");
  fs.mkdirSync(path.join(dir, "db"), { recursive: true });
  fs.writeFileSync(path.join(dir, "slapd.conf"), slapdConfig(dir));
  fs.writeFileSync(path.join(dir, "all.ldif"), ldif());
  execFileSync("/usr/sbin/slapadd", ["-q", "-f", path.join(dir, "slapd.conf"), "-l", path.join(dir, "all.ldif")], { stdio: ["ignore", "ignore", "inherit"] });
  const slapdPort = await freePort();
  const slapd = track(spawn("/usr/sbin/slapd", ["-f", path.join(dir, "slapd.conf"), "-h", `ldap://127.0.0.1:${slapdPort}/`, "-d", "0"], { stdio: "ignore" }));
  cleanups.push(async () => {
    if (slapd.exitCode === null) {
      const exited = new Promise((resolve) => slapd.once("exit", resolve));
      slapd.kill("SIGTERM");
      await exited;
    }
  });
  const slapdUrl = `ldap://127.0.0.1:${slapdPort}`;
  await waitForLdap(slapdUrl);
  log(`ldap: ssoctl ${ssoctlUrl}, slapd ${slapdUrl}, ${USERS} users each`);

  const ssoctlBind = { dn: account.bind_dn, password: account.password };
  const slapdBind = { dn: `cn=admin,${BASE}`, password: "admin-secret" };
  const runs = { baseline: [], measured: [] };
  await searchRate(ssoctlUrl, ssoctlBind, 1); // warm-up: the tree is built at the first search
  await searchRate(slapdUrl, slapdBind, 1);
  for (let r = 0; r < rounds; r += 1) {
    runs.baseline.push(await searchRate(slapdUrl, slapdBind, seconds));
    runs.measured.push(await searchRate(ssoctlUrl, ssoctlBind, seconds));
  }
  const baseline = median(runs.baseline);
  const measured = median(runs.measured);
  const value = measured / baseline;
  record("ldap_search_vs_slapd", {
    value,
    target: ">= 0.5",
    ok: value >= 0.5,
    baseline: { what: `slapd (mdb, uid indexed), one user by uid over ${USERS.toLocaleString("en")} users, ${CONNECTIONS} connections, searches/s`, value: baseline },
    measured: { what: "ssoctl's LDAP interface, the same search and entries, searches/s", value: measured },
    runs,
  });

  // Sign-ins: a local user (argon2 in ssoctl) against a directory user (search + bind at slapd), one server.
  const signInData = await makeDataDir("ldap-signin");
  cleanups.push(signInData.cleanup);
  await runCommand([CLI, "user", "add", USER.username, "--password-stdin", "--data-dir", signInData.dataDir], { input: `${USER.password}\n` });
  const options = { name: "bench", url: slapdUrl, bindDn: slapdBind.dn, bindPassword: slapdBind.password, userBase: `ou=people,${BASE}`, userFilter: "(uid={username})", timeoutMs: 5000 };
  const login = await startApp("login-with-directory.mjs", [signInData.dataDir, JSON.stringify(options)], { timeoutMs: 60_000 });
  cleanups.push(login.stop);
  const localForm = await loginForm(login.url, USER.username, USER.password);
  const directoryForm = await loginForm(login.url, name(1), directoryPassword(1));
  await signInRate(login.url, directoryForm, 1, 1); // the first sign-in makes the user's row
  const signIns = { baseline: [], measured: [] };
  for (let r = 0; r < rounds; r += 1) {
    signIns.baseline.push(await signInRate(login.url, localForm, 4, seconds));
    signIns.measured.push(await signInRate(login.url, directoryForm, 4, seconds));
  }
  const localRate = median(signIns.baseline);
  const directoryRate = median(signIns.measured);
  record("ldap_source_signin_vs_local", {
    value: directoryRate / localRate,
    target: ">= 0.8",
    ok: directoryRate / localRate >= 0.8,
    baseline: { what: "sign-ins/s of a local user (argon2id, --hash-concurrency 2), 4 clients", value: localRate },
    measured: { what: "sign-ins/s of a directory user (search + bind at slapd), same server, 4 clients", value: directoryRate },
    runs: signIns,
  });
}
