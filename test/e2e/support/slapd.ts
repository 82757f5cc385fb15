/**
 * A throwaway OpenLDAP slapd (Debian's) with a generated directory: OpenLDAP-style people with
 * memberOf (the overlay), Active-Directory-style accounts (sAMAccountName, userAccountControl) from
 * a small schema, and groupOfNames groups. Its own temporary directory, a free 127.0.0.1 port,
 * stopped by the test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort, tempDir } from "./processes.js";
import { LDAP_TOOLS, runTool } from "./ldap-tools.js";

export const CORP = "dc=corp,dc=test";
export const ADMIN_DN = `cn=admin,${CORP}`;
export const ADMIN_PASSWORD = "admin-secret";

/** Microsoft's OIDs for the attributes; 99999 is a made-up test OID (Debian's msuser.schema is unusable here). */
const AD_LITE = `attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.1.1 NAME 'adLiteUser' SUP top AUXILIARY MAY ( sAMAccountName $ userPrincipalName $ userAccountControl ) )
`;

export interface DirectoryPerson {
  uid: string;
  password: string;
  cn: string;
  mail?: string;
  groups?: string[];
  /** Under ou=ad with sAMAccountName (its uid upper-cased, as AD often has it) and userAccountControl. */
  ad?: { disabled: boolean };
}

export interface RunningSlapd {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** ldapmodify/ldapdelete as the directory's admin. */
  admin(tool: "ldapmodify" | "ldapdelete", args: string[], input?: string): Promise<void>;
  cleanup(): Promise<void>;
}

function dnOf(p: DirectoryPerson): string {
  return p.ad === undefined ? `uid=${p.uid},ou=people,${CORP}` : `cn=${p.cn},ou=ad,${CORP}`;
}

function ldif(people: DirectoryPerson[]): string {
  const lines = [`dn: ${CORP}`, "objectClass: dcObject", "objectClass: organization", "dc: corp", "o: corp", ""];
  for (const ou of ["people", "ad", "groups"]) lines.push(`dn: ou=${ou},${CORP}`, "objectClass: organizationalUnit", `ou: ${ou}`, "");
  const groups = new Map<string, string[]>();
  for (const p of people) {
    lines.push(`dn: ${dnOf(p)}`, "objectClass: inetOrgPerson", ...(p.ad === undefined ? [] : ["objectClass: adLiteUser"]), `uid: ${p.uid}`, `cn: ${p.cn}`, `sn: ${p.cn.split(" ").pop()}`, `userPassword: ${p.password}`);
    if (p.mail !== undefined) lines.push(`mail: ${p.mail}`);
    if (p.ad !== undefined) lines.push(`sAMAccountName: ${p.uid.toUpperCase()}`, `userPrincipalName: ${p.uid}@corp.test`, `userAccountControl: ${p.ad.disabled ? 514 : 512}`);
    // slapadd runs no overlay: memberOf is written out (the overlay keeps it right afterwards).
    for (const g of p.groups ?? []) {
      lines.push(`memberOf: cn=${g},ou=groups,${CORP}`);
      groups.set(g, [...(groups.get(g) ?? []), dnOf(p)]);
    }
    lines.push("");
  }
  for (const [g, members] of groups) lines.push(`dn: cn=${g},ou=groups,${CORP}`, "objectClass: groupOfNames", `cn: ${g}`, ...members.map((m) => `member: ${m}`), "");
  return lines.join("\n");
}

export async function startSlapd(people: DirectoryPerson[], options: { tls?: { cert: string; key: string } } = {}): Promise<RunningSlapd> {
  const slapd = LDAP_TOOLS.slapd();
  const dir = tempDir("slapd");
  fs.mkdirSync(path.join(dir, "db"));
  fs.writeFileSync(path.join(dir, "ad-lite.schema"), AD_LITE);
  const conf = path.join(dir, "slapd.conf");
  fs.writeFileSync(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include ${dir}/ad-lite.schema
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
${options.tls === undefined ? "" : `TLSCertificateFile ${options.tls.cert}\nTLSCertificateKeyFile ${options.tls.key}\n`}sizelimit unlimited
database mdb
maxsize 104857600
suffix "${CORP}"
rootdn "${ADMIN_DN}"
rootpw ${ADMIN_PASSWORD}
directory ${dir}/db
index objectClass eq
index uid,mail,sAMAccountName eq
index member,memberOf eq
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
access to attrs=userPassword by anonymous auth by self read by * none
access to * by * read
`,
  );
  fs.writeFileSync(path.join(dir, "all.ldif"), ldif(people));
  const load = await runTool("/usr/sbin/slapadd", ["-q", "-f", conf, "-l", path.join(dir, "all.ldif")]);
  if (load.code !== 0) throw new Error(`slapadd failed: ${load.stderr}`);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let output = "";
  const start = async (): Promise<void> => {
    child = spawn(slapd, ["-f", conf, "-h", `${url}/`, "-d", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    for (let waited = 0; ; waited += 50) {
      const probe = await runTool(LDAP_TOOLS.ldapsearch(), ["-x", "-H", url, "-b", "", "-s", "base", "(objectClass=*)"]);
      if (probe.code === 0) return;
      if (waited > 10_000 || child.exitCode !== null) throw new Error(`slapd did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const running = child;
    if (running === null || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    await exited;
    child = null;
  };
  await start();
  return {
    url,
    port,
    start,
    stop,
    admin: async (tool, args, input) => {
      const result = await runTool(`/usr/bin/${tool}`, ["-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, ...args], { input });
      if (result.code !== 0) throw new Error(`${tool} failed: ${result.stderr}`);
    },
    cleanup: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
