/**
 * The proxy configurations exactly as README.md shows them, with the test's
 * addresses in place of the README's `127.0.0.1:8081` (login server),
 * `127.0.0.1:3000` (app) and site address: what is tested is what users copy.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { NginxSnippet } from "./nginx.js";

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../README.md");
const README_LOGIN = "127.0.0.1:8081";
const README_APP = "127.0.0.1:3000";

/** The first ````language```` block under the `### heading…` that contains `mustContain`. */
export function readmeBlock(heading: string, language: string, mustContain: string): string {
  const text = fs.readFileSync(README, "utf8");
  const start = text.indexOf(`\n### ${heading}`);
  if (start === -1) throw new Error(`README.md has no "### ${heading}" section`);
  const section = text.slice(start, sectionEnd(text, start + 1));
  const blocks = section.split(`\n\`\`\`${language}\n`).slice(1).map((rest) => rest.slice(0, rest.indexOf("\n```")));
  const block = blocks.find((candidate) => candidate.includes(mustContain));
  if (block === undefined) throw new Error(`README.md's "### ${heading}" section has no \`\`\`${language} block containing ${mustContain}`);
  return block;
}

/** Where the section starting at `from` ends: the next heading outside a code block (a `# comment` inside one is no heading). */
function sectionEnd(text: string, from: number): number | undefined {
  let inCode = false;
  let at = text.indexOf("\n", from);
  while (at !== -1) {
    const line = text.slice(at + 1, text.indexOf("\n", at + 1) === -1 ? undefined : text.indexOf("\n", at + 1));
    if (line.startsWith("```")) inCode = !inCode;
    else if (!inCode && line.startsWith("#")) return at;
    at = text.indexOf("\n", at + 1);
  }
  return undefined;
}

function withAddresses(snippet: string, addresses: { login: string; upstream: string }): string {
  for (const [documented, name] of [
    [README_LOGIN, "login server"],
    [README_APP, "app"],
  ] as const) {
    if (!snippet.includes(documented)) throw new Error(`the README snippet no longer names the ${name} as ${documented}; update test/e2e/support/readme.ts:\n${snippet}`);
  }
  return snippet.replaceAll(README_LOGIN, addresses.login).replaceAll(README_APP, addresses.upstream);
}

/** README's nginx snippet: `upstream` blocks go in `http {}`, the rest in `server {}`. */
export function readmeNginx(addresses: { login: string; upstream: string }): NginxSnippet {
  const snippet = withAddresses(readmeBlock("nginx", "nginx", "auth_request"), addresses);
  const http: string[] = [];
  const server: string[] = [];
  let depth = 0;
  let inUpstream = false;
  for (const line of snippet.split("\n")) {
    const code = line.replace(/#.*/, "");
    if (depth === 0) inUpstream = /^\s*upstream\s/.test(code);
    (inUpstream ? http : server).push(line);
    depth += (code.match(/\{/g) ?? []).length - (code.match(/\}/g) ?? []).length;
  }
  return { http: http.join("\n"), server: server.join("\n") };
}

/** README's Caddy site block, served at `http://127.0.0.1:PORT`. */
export function readmeCaddySite(port: number, addresses: { login: string; upstream: string }): string {
  const snippet = withAddresses(readmeBlock("Caddy", "caddyfile", "forward_auth"), addresses);
  const site = /^\S+ \{/;
  if (!site.test(snippet)) throw new Error(`the README Caddy snippet does not start with a site address:\n${snippet}`);
  return snippet.replace(site, `http://127.0.0.1:${port} {`);
}

// ---- CAS (issue 14) ----
/**
 * README's mod_auth_cas block ("### CAS apps"), with the test's login server (`host:port`), cookie directory
 * and ServerName, and the validation URL and CASVersion of the flavour under test.
 */
export function readmeApacheCas(options: { login: string; cookieDir: string; flavour: 1 | 2 | 3 }): string {
  let block = readmeBlock("CAS apps", "apache", "CASLoginURL");
  for (const documented of [README_LOGIN, "ServerName wiki.example.com", "/var/cache/apache2/mod_auth_cas/", "/cas/p3/serviceValidate", "CASVersion 2"]) {
    if (!block.includes(documented)) throw new Error(`README's CAS block no longer contains ${documented}; update test/e2e/support/readme.ts:\n${block}`);
  }
  block = block.replaceAll(README_LOGIN, options.login).replace("ServerName wiki.example.com", "ServerName 127.0.0.1").replace("/var/cache/apache2/mod_auth_cas/", `${options.cookieDir}/`);
  if (options.flavour === 2) block = block.replace("/cas/p3/serviceValidate", "/cas/serviceValidate");
  if (options.flavour === 1) block = block.replace("/cas/p3/serviceValidate", "/cas/validate").replace("CASVersion 2", "CASVersion 1");
  return block;
}
// ---- end CAS ----
