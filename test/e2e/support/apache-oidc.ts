/**
 * Debian's Apache with mod_auth_openidc, as its own process with a temporary configuration: two
 * sites (two OIDC clients, on 127.0.0.1 and on localhost, so their cookies are apart) in front of a
 * CGI script that prints what Apache tells the app (REMOTE_USER and the OIDC_CLAIM_* variables).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { startProgram, tempDir, requireProgram, type RunningProgram } from "./processes.js";
import { fileURLToPath } from "node:url";

export const APACHE = "/usr/sbin/apache2";
const MODULES = "/usr/lib/apache2/modules";

export interface OidcSite {
  /** e.g. http://127.0.0.1:PORT */
  origin: string;
  port: number;
  clientId: string;
  clientSecret: string;
  /** the session cookie's name: two sites on one host must not share it */
  cookie: string;
}

export function redirectUriOf(site: { origin: string }): string {
  return `${site.origin}/secure/redirect_uri`;
}

export function signedOutUriOf(site: { origin: string }): string {
  return `${site.origin}/public/env.sh`;
}

const ENV_SCRIPT = `#!/bin/sh
printf 'Content-Type: text/html; charset=utf-8\\r\\n\\r\\n'
printf '<!doctype html><title>Apache app</title><style>body{font:16px system-ui;margin:2em}</style><h1>Apache app %s</h1><pre>\\n' "$SCRIPT_NAME"
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
env | grep '^OIDC_CLAIM_' | sort
printf '</pre>\\n'
`;

export async function startApache(options: { issuer: string; sites: OidcSite[] }): Promise<RunningProgram & { errorLog(): string }> {
  const binary = requireProgram("apache2", APACHE, "apache2");
  if (!fs.existsSync(path.join(MODULES, "mod_auth_openidc.so"))) {
    throw new Error(`mod_auth_openidc is required by the end-to-end tests but ${MODULES}/mod_auth_openidc.so is missing. Install it (apt-get install libapache2-mod-auth-openidc).`);
  }
  const dir = tempDir("apache");
  // The CGI runs as nobody: it must reach its script.
  fs.chmodSync(dir, 0o755);
  for (const sub of ["run", "logs", "cgi"]) fs.mkdirSync(path.join(dir, sub), { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "cgi", "env.sh"), ENV_SCRIPT, { mode: 0o755 });
  const modules = ["mpm_prefork", "authn_core", "authz_core", "authz_user", "alias", "cgi", "auth_openidc"];
  const lines = [
    `ServerRoot ${dir}`,
    "ServerName 127.0.0.1",
    ...modules.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m === "auth_openidc" ? "auth_openidc" : m}.so`),
    "User nobody",
    "Group nogroup",
    `PidFile ${dir}/run/httpd.pid`,
    `DefaultRuntimeDir ${dir}/run`,
    `Mutex file:${dir}/run default`,
    `ErrorLog ${dir}/logs/error.log`,
    "LogLevel warn",
    `ScriptAlias /secure/ ${dir}/cgi/`,
    `ScriptAlias /staff/ ${dir}/cgi/`,
    `ScriptAlias /public/ ${dir}/cgi/`,
    ...options.sites.map((s) => `Listen 127.0.0.1:${s.port}`),
  ];
  for (const site of options.sites) {
    lines.push(
      `<VirtualHost 127.0.0.1:${site.port}>`,
      `  ServerName ${new URL(site.origin).host}`,
      // README's settings as written, with this site's addresses and credentials.
      ...readmeApache(options.issuer, site).split("\n").map((line) => `  ${line}`),
      `  OIDCCookie ${site.cookie}`,
      "  <Location /staff/>",
      "    AuthType openid-connect",
      "    Require claim groups:staff",
      "  </Location>",
      "</VirtualHost>",
    );
  }
  const conf = path.join(dir, "httpd.conf");
  fs.writeFileSync(conf, lines.join("\n") + "\n");
  const first = options.sites[0]!;
  const program = await startProgram({ name: "apache2", command: binary, args: ["-f", conf, "-DFOREGROUND"], detached: true, url: `${first.origin}/public/env.sh` });
  return {
    ...program,
    errorLog: () => fs.readFileSync(path.join(dir, "logs", "error.log"), "utf8"),
    stop: async () => {
      await program.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** README's "Apache (`mod_auth_openidc`, tested)" block with the test's issuer, site and client. */
function readmeApache(issuer: string, site: OidcSite): string {
  // Not readmeBlock(): its section ends at the next line starting with "#", and Apache comments do.
  const readme = fs.readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");
  const heading = readme.indexOf("\n### Apache (`mod_auth_openidc`");
  const open = readme.indexOf("\n```apache\n", heading);
  if (heading === -1 || open === -1) throw new Error("README.md has no ```apache block under \"### Apache (`mod_auth_openidc`…\"");
  const block = readme.slice(open + "\n```apache\n".length, readme.indexOf("\n```", open + 1));
  const replacements: Array<[string, string]> = [
    ["https://login.example.com", issuer],
    ["https://app.example.com", site.origin],
    ["apache-0123456789abcdef", site.clientId],
    ["THE-SECRET", site.clientSecret],
    ["A-LONG-RANDOM-STRING", randomBytes(24).toString("hex")],
  ];
  let text = block;
  for (const [documented, actual] of replacements) {
    if (!text.includes(documented)) throw new Error(`README's Apache block no longer contains ${documented}; update test/e2e/support/apache-oidc.ts`);
    text = text.replaceAll(documented, actual);
  }
  return text;
}
