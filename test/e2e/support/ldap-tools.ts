/**
 * OpenLDAP's command-line tools (ldap-utils), Debian's python3-ldap3 and a throwaway TLS certificate,
 * for the LDAP end-to-end tests. Passwords go through files (-y), never the command line.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { requireProgram } from "./processes.js";

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, LDAPTLS_REQCERT: "demand", ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

export const LDAP_TOOLS = {
  ldapsearch: (): string => requireProgram("ldapsearch", "/usr/bin/ldapsearch", "ldap-utils"),
  ldapwhoami: (): string => requireProgram("ldapwhoami", "/usr/bin/ldapwhoami", "ldap-utils"),
  ldapdelete: (): string => requireProgram("ldapdelete", "/usr/bin/ldapdelete", "ldap-utils"),
  ldapadd: (): string => requireProgram("ldapadd", "/usr/bin/ldapadd", "ldap-utils"),
  slapd: (): string => requireProgram("slapd", "/usr/sbin/slapd", "slapd"),
  openssl: (): string => requireProgram("openssl", "/usr/bin/openssl", "openssl"),
  /** Debian's python3 (the one on PATH may not see python3-ldap3). */
  python: (): string => requireProgram("python3", "/usr/bin/python3", "python3-ldap3"),
};

/** A password in a 0600 file, for `-y`. */
export function passwordFile(dir: string, name: string, password: string): string {
  const file = path.join(dir, `${name}.pw`);
  fs.writeFileSync(file, password, { mode: 0o600 });
  return file;
}

/** A self-signed certificate for 127.0.0.1 (an IP SAN: libldap checks it, and swaps "localhost" for the host name). */
export async function makeCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, "server.crt");
  const key = path.join(dir, "server.key");
  const result = await runTool(LDAP_TOOLS.openssl(), ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]);
  if (result.code !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  return { cert, key };
}

/** Whether python3 can import ldap3 (Debian's python3-ldap3); throws naming the package otherwise. */
export async function requireLdap3(): Promise<string> {
  const python = LDAP_TOOLS.python();
  const probe = await runTool(python, ["-c", "import ldap3"]);
  if (probe.code !== 0) throw new Error(`python3-ldap3 is required by the end-to-end tests (apt-get install python3-ldap3): ${probe.stderr}`);
  return python;
}
