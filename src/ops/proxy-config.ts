/**
 * `ssoctl doctor`'s look at proxy configurations it can read: an nginx `X-Original-URL` built from
 * the client's `Host` (`$http_host`, `$host`) lets that header choose which app's rules apply,
 * wherever the server block also answers other names. Pure over the files' text; the command
 * reads them (the ones named by `--proxy-config`, else nginx's usual places when readable).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Check } from "./doctor.js";

/** Lines (1-based) of an nginx configuration that send the client's Host in X-Original-URL. */
export function reflectedHostLines(text: string): number[] {
  const lines: number[] = [];
  text.split("\n").forEach((line, i) => {
    const code = line.replace(/#.*/, "");
    if (/proxy_set_header\s+X-Original-URL\s+[^;]*\$(http_host|host)\b/i.test(code)) lines.push(i + 1);
  });
  return lines;
}

/** `reportPass`: say so when nothing is wrong (for files the admin named; nginx's own are checked quietly). */
export function checkProxyConfigs(files: Array<{ path: string; text: string }>, options: { reportPass: boolean }): Check[] {
  const checks: Check[] = [];
  for (const file of files) {
    const lines = reflectedHostLines(file.text);
    if (lines.length === 0) continue;
    checks.push({
      check: "proxy Host",
      status: "warn",
      detail: `${file.path}:${lines.join(",")} builds X-Original-URL from the client's Host: where that server block answers other names, a client picks which app's rules apply`,
      fix: "state the app's own origin (set $ssoctl_app https://app.example.com; X-Original-URL $ssoctl_app$request_uri) and add a default_server that refuses other names (see README, nginx)",
    });
  }
  if (options.reportPass && files.length > 0 && checks.length === 0) {
    checks.push({ check: "proxy Host", status: "pass", detail: `${files.length} proxy configuration file(s) read; none sends the client's Host as the target` });
  }
  return checks;
}

/** The nginx configuration files where nginx usually keeps them, when they can be read. */
export function defaultProxyConfigFiles(root = "/etc/nginx"): string[] {
  const files: string[] = [];
  const add = (file: string): void => {
    try {
      if (fs.statSync(file).isFile()) files.push(file);
    } catch {
      // Not there, or not readable: nothing to tell.
    }
  };
  add(path.join(root, "nginx.conf"));
  for (const dir of ["conf.d", "sites-enabled"]) {
    try {
      for (const name of fs.readdirSync(path.join(root, dir)).sort()) add(path.join(root, dir, name));
    } catch {
      // No such directory.
    }
  }
  return files;
}

export function readProxyConfigs(files: string[]): Array<{ path: string; text: string }> {
  const read: Array<{ path: string; text: string }> = [];
  for (const file of files) {
    try {
      read.push({ path: file, text: fs.readFileSync(file, "utf8") });
    } catch {
      // Unreadable: skipped, as doctor says only what it can tell.
    }
  }
  return read;
}
