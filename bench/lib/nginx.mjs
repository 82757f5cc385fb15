/**
 * Real nginx for the bench: one static file served on two 127.0.0.1 ports, one of them
 * behind `auth_request` to the login server as the README shows. Everything lives in a
 * temporary prefix that `stop()` removes.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { track } from "./proc.mjs";

export const NGINX = process.env.SSOCTL_BENCH_NGINX ?? "/usr/sbin/nginx";

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The auth location. `keepalive`: the README's form (an `upstream` with `keepalive`,
 * HTTP/1.1, no `Connection: close`); otherwise the form the README showed before, one
 * TCP connection per check.
 */
function authBlocks(login, keepalive) {
  const target = keepalive ? "http://ssoctl" : `http://${login}`;
  const upstream = keepalive ? `    upstream ssoctl {\n        server ${login};\n        keepalive 64;\n        keepalive_timeout 4s;\n    }\n` : "";
  const http11 = keepalive ? `            proxy_http_version 1.1;\n            proxy_set_header Connection "";\n` : "";
  return {
    upstream,
    location: `        location = /_ssoctl {
            internal;
            proxy_pass ${target}/auth/request;
${http11}            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
        }
`,
  };
}

/**
 * Starts nginx with `worker_processes 1`; resolves with the URL of the plain server and
 * of the protected one (same root, same file). Requests must carry a Host the login server
 * knows as an app (the bench sends `Host: app.bench.test`).
 */
export async function startNginx({ loginUrl, file, keepalive = true }) {
  if (!fs.existsSync(NGINX)) throw new Error(`nginx is needed for this bench entry but ${NGINX} does not exist (apt-get install nginx, or set SSOCTL_BENCH_NGINX)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-bench-nginx-"));
  const root = path.join(dir, "www");
  fs.mkdirSync(root);
  fs.copyFileSync(file, path.join(root, path.basename(file)));
  const login = new URL(loginUrl).host;
  const [plainPort, authPort] = [await freePort(), await freePort()];
  const auth = authBlocks(login, keepalive);
  const t = (name) => path.join(dir, name);
  const config = `${process.getuid?.() === 0 ? "user root root;\n" : ""}daemon off;
master_process on;
worker_processes 1;
pid ${t("nginx.pid")};
error_log ${t("error.log")} warn;
events { worker_connections 1024; }
http {
    access_log off;
    # autocannon counts nginx closing a client connection after its default 1000 requests as an error.
    keepalive_requests 1000000;
    client_body_temp_path ${t("client_body")};
    proxy_temp_path ${t("proxy")};
    fastcgi_temp_path ${t("fastcgi")};
    uwsgi_temp_path ${t("uwsgi")};
    scgi_temp_path ${t("scgi")};
${auth.upstream}    server {
        listen 127.0.0.1:${plainPort};
        root ${root};
    }
    server {
        listen 127.0.0.1:${authPort};
        root ${root};
${auth.location}        location / {
            auth_request /_ssoctl;
            auth_request_set $ssoctl_user $upstream_http_remote_user;
            auth_request_set $ssoctl_redirect $upstream_http_location;
            error_page 401 =302 $ssoctl_redirect;
            add_header X-User $ssoctl_user;
        }
    }
}
`;
  fs.writeFileSync(t("nginx.conf"), config);
  const child = track(spawn(NGINX, ["-c", t("nginx.conf"), "-p", dir, "-e", t("error.log")], { stdio: ["ignore", "ignore", "pipe"] }));
  let stderr = "";
  child.stderr.on("data", (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const plainUrl = `http://127.0.0.1:${plainPort}`;
  const authUrl = `http://127.0.0.1:${authPort}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGQUIT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      const log = fs.existsSync(t("error.log")) ? fs.readFileSync(t("error.log"), "utf8") : "";
      await stop();
      throw new Error(`nginx exited with ${child.exitCode}: ${stderr}${log}`);
    }
    try {
      const response = await fetch(`${plainUrl}/${path.basename(file)}`);
      await response.arrayBuffer();
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer within 10 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { plainUrl, authUrl, pid: child.pid, stop, errorLog: () => (fs.existsSync(t("error.log")) ? fs.readFileSync(t("error.log"), "utf8") : "") };
}
