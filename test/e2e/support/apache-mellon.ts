/**
 * Real Apache httpd with Debian's mod_auth_mellon in front of a CGI page, with README's "SAML apps"
 * block as written (the test's addresses and files put in): its own process, a temporary config,
 * a free 127.0.0.1 port, the SP key and metadata made by `mellon_create_metadata`, everything in a
 * temporary directory. The CGI page prints REMOTE_USER and the MELLON_* variables.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { APACHE } from "./apache.js";
import { freePort, requireProgram, startProgram, tempDir, type RunningProgram } from "./processes.js";

export const MOD_AUTH_MELLON = "/usr/lib/apache2/modules/mod_auth_mellon.so";
const MELLON_CREATE_METADATA = "/usr/sbin/mellon_create_metadata";
const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../README.md");

export interface RunningMellon extends RunningProgram {
  origin: string;
  /** The SP metadata mellon_create_metadata wrote (what `ssoctl saml add` registers). */
  metadataFile: string;
  entityId: string;
  errorLog(): string;
}

/** README's mod_auth_mellon block ("## SAML apps"), with this test's files and ServerName. */
export function readmeApacheMellon(files: { dir: string }): string {
  const text = fs.readFileSync(README, "utf8");
  const start = text.indexOf("\n## SAML apps");
  if (start === -1) throw new Error('README.md has no "## SAML apps" section');
  const section = text.slice(start, text.indexOf("\n## ", start + 1));
  const block = section.split("\n```apache\n")[1]?.split("\n```")[0];
  if (block === undefined) throw new Error("README's SAML apps section has no ```apache block");
  const replacements: Array<[string, string]> = [
    ["ServerName wiki.example.com", "ServerName 127.0.0.1"],
    ["/var/run/apache2/mellon.lock", path.join(files.dir, "run/mellon.lock")],
    ["/var/cache/apache2/mod_auth_mellon/", path.join(files.dir, "post") + "/"],
    ["/etc/apache2/mellon/", path.join(files.dir, "mellon") + "/"],
  ];
  let result = block;
  for (const [documented, actual] of replacements) {
    if (!result.includes(documented)) throw new Error(`README's SAML block no longer contains ${documented}; update test/e2e/support/apache-mellon.ts:\n${block}`);
    result = result.replaceAll(documented, actual);
  }
  return result;
}

const ENV_SCRIPT = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env | grep -E '^(REMOTE_USER|MELLON_(uid|mail|displayName|groups)[_0-9]*)=' | sort
`;

/** Starts Apache with mellon; `idpMetadata`: the XML ssoctl serves at /saml/metadata. */
export async function startApacheMellon(options: { idpMetadata: string }): Promise<RunningMellon> {
  const command = requireProgram("apache2", APACHE, "apache2");
  if (!fs.existsSync(MOD_AUTH_MELLON)) {
    throw new Error(`mod_auth_mellon is required by the end-to-end tests but ${MOD_AUTH_MELLON} does not exist. Install it (apt-get install libapache2-mod-auth-mellon).`);
  }
  requireProgram("mellon_create_metadata", MELLON_CREATE_METADATA, "libapache2-mod-auth-mellon");
  const dir = tempDir("mellon");
  const runAsRoot = process.getuid?.() === 0;
  for (const sub of ["run", "logs", "cgi", "post", "mellon"]) fs.mkdirSync(path.join(dir, sub));
  fs.writeFileSync(path.join(dir, "cgi", "env.sh"), ENV_SCRIPT, { mode: 0o755 });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const entityId = `${origin}/mellon/metadata`;
  const mellonDir = path.join(dir, "mellon");
  execFileSync(MELLON_CREATE_METADATA, [entityId, `${origin}/mellon`], { cwd: mellonDir, stdio: "ignore" });
  // It names its files after the entity ID (runs of other characters become "_").
  for (const file of fs.readdirSync(mellonDir)) {
    const extension = path.extname(file).slice(1);
    fs.renameSync(path.join(mellonDir, file), path.join(mellonDir, `sp.${extension}`));
  }
  fs.writeFileSync(path.join(mellonDir, "idp.xml"), options.idpMetadata);
  if (runAsRoot) {
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, "cgi"), 0o755);
    fs.chownSync(path.join(dir, "post"), 65534, 65534);
    fs.chownSync(path.join(dir, "run"), 65534, 65534);
  }
  const modules = "/usr/lib/apache2/modules";
  const t = (name: string): string => path.join(dir, name);
  const config = `Listen 127.0.0.1:${port}
LoadModule mpm_prefork_module ${modules}/mod_mpm_prefork.so
LoadModule authn_core_module  ${modules}/mod_authn_core.so
LoadModule authz_core_module  ${modules}/mod_authz_core.so
LoadModule authz_user_module  ${modules}/mod_authz_user.so
LoadModule alias_module       ${modules}/mod_alias.so
LoadModule cgi_module         ${modules}/mod_cgi.so
LoadModule auth_mellon_module ${MOD_AUTH_MELLON}
${runAsRoot ? "User nobody\nGroup nogroup\n" : ""}StartServers 1
MinSpareServers 1
MaxSpareServers 2
PidFile ${t("run/httpd.pid")}
DefaultRuntimeDir ${t("run")}
Mutex file:${t("run")} default
ErrorLog ${t("logs/error.log")}
LogLevel warn auth_mellon:debug
ScriptAlias /secure/ ${t("cgi")}/
ScriptAlias /staff/ ${t("cgi")}/

${readmeApacheMellon({ dir })}
`;
  const configPath = path.join(dir, "httpd.conf");
  fs.writeFileSync(configPath, config);
  const program = await startProgram({
    name: "apache2 (mellon)",
    command,
    args: ["-f", configPath, "-DFOREGROUND"],
    url: `${origin}/nothing`,
    detached: true,
    env: { ...process.env, APACHE_RUN_DIR: t("run"), APACHE_LOG_DIR: t("logs") },
  });
  return {
    ...program,
    origin,
    entityId,
    metadataFile: path.join(mellonDir, "sp.xml"),
    errorLog: () => {
      try {
        return fs.readFileSync(t("logs/error.log"), "utf8");
      } catch {
        return "";
      }
    },
    stop: async () => {
      await program.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
