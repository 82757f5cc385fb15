/**
 * Real Apache httpd with Debian's mod_auth_cas in front of a CGI page, with README's "CAS apps"
 * block as written (the test's addresses put in): its own process, a temporary config (-f), a free 127.0.0.1 port, everything
 * it writes in a temporary directory. The CGI page prints REMOTE_USER and the CAS-* headers.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { readmeApacheCas } from "./readme.js";
import { freePort, requireProgram, startProgram, tempDir, type RunningProgram } from "./processes.js";

export const APACHE = "/usr/sbin/apache2";
export const MOD_AUTH_CAS = "/usr/lib/apache2/modules/mod_auth_cas.so";

/** Which validation endpoint mod_auth_cas uses: CAS 1 (/cas/validate), 2 (/cas/serviceValidate) or 3 (/cas/p3/serviceValidate). */
export type CasFlavour = 1 | 2 | 3;

export interface RunningApache extends RunningProgram {
  port: number;
  origin: string;
  config: string;
  /** Apache's error log (mod_auth_cas logs there), for a failing test's message. */
  errorLog(): string;
}

/** The server around README's mod_auth_cas block: port, modules, files in `dir`, and the CGI page under /secure/ and /staff/. */
export function apacheCasConfig(options: { dir: string; port: number; loginServer: string; flavour: CasFlavour; runAsRoot: boolean }): string {
  const t = (name: string): string => path.join(options.dir, name);
  const modules = "/usr/lib/apache2/modules";
  return `Listen 127.0.0.1:${options.port}
LoadModule mpm_prefork_module ${modules}/mod_mpm_prefork.so
LoadModule authn_core_module  ${modules}/mod_authn_core.so
LoadModule authz_core_module  ${modules}/mod_authz_core.so
LoadModule authz_user_module  ${modules}/mod_authz_user.so
LoadModule alias_module       ${modules}/mod_alias.so
LoadModule cgi_module         ${modules}/mod_cgi.so
LoadModule auth_cas_module    ${modules}/mod_auth_cas.so
${options.runAsRoot ? "User nobody\nGroup nogroup\n" : ""}StartServers 1
MinSpareServers 1
MaxSpareServers 2
PidFile ${t("run/httpd.pid")}
DefaultRuntimeDir ${t("run")}
Mutex file:${t("run")} default
ErrorLog ${t("logs/error.log")}
LogLevel warn auth_cas:debug
ScriptAlias /secure/ ${t("cgi")}/
ScriptAlias /staff/ ${t("cgi")}/

${readmeApacheCas({ login: new URL(options.loginServer).host, cookieDir: t("cas-cookies"), flavour: options.flavour })}
`;
}

const ENV_SCRIPT = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env | grep -E '^(REMOTE_USER|HTTP_CAS_[A-Z_]+)=' | sort
`;

export async function startApacheCas(options: { loginServer: string; flavour: CasFlavour }): Promise<RunningApache> {
  const command = requireProgram("apache2", APACHE, "apache2");
  if (!fs.existsSync(MOD_AUTH_CAS)) {
    throw new Error(`mod_auth_cas is required by the end-to-end tests but ${MOD_AUTH_CAS} does not exist. Install it (apt-get install libapache2-mod-auth-cas).`);
  }
  const dir = tempDir("apache");
  const runAsRoot = process.getuid?.() === 0;
  for (const sub of ["run", "logs", "cgi", "cas-cookies"]) fs.mkdirSync(path.join(dir, sub));
  fs.writeFileSync(path.join(dir, "cgi", "env.sh"), ENV_SCRIPT, { mode: 0o755 });
  if (runAsRoot) {
    // Apache's children run as nobody: they read the CGI directory and write the session files.
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, "cgi"), 0o755);
    fs.chownSync(path.join(dir, "cas-cookies"), 65534, 65534);
  }
  const port = await freePort();
  const config = apacheCasConfig({ dir, port, loginServer: options.loginServer, flavour: options.flavour, runAsRoot });
  const configPath = path.join(dir, "httpd.conf");
  fs.writeFileSync(configPath, config);
  const origin = `http://127.0.0.1:${port}`;
  // Any answer means it listens: /nothing is outside the protected locations (404).
  const program = await startProgram({ name: "apache2", command, args: ["-f", configPath, "-DFOREGROUND"], url: `${origin}/nothing`, detached: true, env: { ...process.env, APACHE_RUN_DIR: path.join(dir, "run"), APACHE_LOG_DIR: path.join(dir, "logs") } });
  const errorLog = (): string => {
    try {
      return fs.readFileSync(path.join(dir, "logs", "error.log"), "utf8");
    } catch {
      return "";
    }
  };
  return {
    ...program,
    port,
    origin,
    config,
    errorLog,
    stop: async () => {
      await program.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
