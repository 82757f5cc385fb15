/**
 * Several `ssoctl serve` on one PostgreSQL database behind real nginx: one `upstream`
 * block (round robin) that serves both the login pages and the `auth_request`
 * subrequests of an app. The upstream and the login site are README's "The load
 * balancer" snippet as written there, with the test's addresses in place of its own.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { hostPort, nginxMain, runNginx, type RunningProxy } from "./nginx.js";
import { freePort, startProgram, tempDir, type RunningProgram } from "./processes.js";
import { readmeBlock } from "./readme.js";

const README_SERVERS = ["10.0.0.11:8081", "10.0.0.12:8081"];
const README_LISTEN = "listen 443 ssl;";

/** README's upstream and login site, for exactly two servers, listening on `port` without TLS. */
export function readmeLoadBalancer(servers: string[], port: number): string {
  let snippet = readmeBlock("The load balancer", "nginx", "upstream ssoctl {");
  for (const documented of [...README_SERVERS, README_LISTEN]) {
    if (!snippet.includes(documented)) throw new Error(`README's load balancer snippet no longer has "${documented}"; update test/e2e/support/load-balancer.ts:\n${snippet}`);
  }
  README_SERVERS.forEach((documented, i) => (snippet = snippet.replace(documented, servers[i]!)));
  return snippet
    .replace(README_LISTEN, `listen 127.0.0.1:${port};`)
    .split("\n")
    .filter((line) => !/^\s*ssl_certificate/.test(line))
    .join("\n");
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** `ssoctl serve` on a free port with the database in SSOCTL_DATABASE_URL, as the README says to run it. */
export async function startLoginServerProcess(options: { databaseUrl: string; publicUrl: string; port?: number }): Promise<RunningProgram & { port: number }> {
  if (!fs.existsSync(path.join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is missing: build first with `npx tsc -p .`");
  const port = options.port ?? (await freePort());
  const running = await startProgram({
    name: "ssoctl serve",
    command: process.execPath,
    args: [path.join(ROOT, "bin/ssoctl"), "serve", "--port", String(port), "--public-url", options.publicUrl],
    env: { ...process.env, SSOCTL_DATABASE_URL: options.databaseUrl, SSOCTL_DEBUG: "" },
    url: `http://127.0.0.1:${port}/healthz`,
  });
  return { ...running, port };
}

export function loadBalancerConfig(options: { dir: string; loginPort: number; appPort: number; servers: string[]; upstream: string; runAsRoot: boolean }): string {
  return `${nginxMain({ ...options, workerConnections: 256 })}

${readmeLoadBalancer(options.servers, options.loginPort)}

    # An app protected by auth_request against the same servers.
    server {
        listen 127.0.0.1:${options.appPort};
        location = /_ssoctl {
            internal;
            proxy_pass http://ssoctl/auth/request;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_next_upstream error timeout;
        }
        location / {
            auth_request /_ssoctl;
            auth_request_set $ssoctl_user $upstream_http_remote_user;
            auth_request_set $ssoctl_redirect $upstream_http_location;
            error_page 401 =302 $ssoctl_redirect;
            proxy_set_header Remote-User $ssoctl_user;
            proxy_pass http://${options.upstream};
        }
    }
}
`;
}

/** nginx balancing `servers` (host:port) for the login URL on `loginPort` and the app on `appPort`. */
export async function startLoadBalancer(options: { loginPort: number; appPort: number; servers: string[]; upstreamUrl: string }): Promise<RunningProxy> {
  const dir = tempDir("nginx-lb");
  const config = loadBalancerConfig({ dir, ...options, upstream: hostPort(options.upstreamUrl), runAsRoot: process.getuid?.() === 0 });
  return runNginx(dir, options.loginPort, config, `http://127.0.0.1:${options.loginPort}/healthz`);
}

