/** Real nginx with `auth_request` in front of an app, configured as the README's nginx section shows. */
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort, requireProgram, startProgram, tempDir, type RunningProgram } from "./processes.js";

export const NGINX = "/usr/sbin/nginx";

export interface RunningProxy extends RunningProgram {
  port: number;
  /** The generated configuration, for a failing test's message. */
  config: string;
}

/** `host:port` of a URL like http://127.0.0.1:8081. */
export function hostPort(url: string): string {
  return new URL(url).host;
}

/**
 * What every test nginx needs around its `http {}` content: in the foreground, one worker, and
 * every file it writes (pid, logs, temporary bodies) under `dir`, so it runs unprivileged too.
 */
export function nginxMain(options: { dir: string; runAsRoot: boolean; workerConnections?: number }): string {
  const t = (name: string): string => path.join(options.dir, name);
  return `${options.runAsRoot ? "user root root;\n" : ""}daemon off;
master_process on;
worker_processes 1;
pid ${t("nginx.pid")};
error_log ${t("error.log")} info;
events { worker_connections ${options.workerConnections ?? 64}; }
http {
    access_log ${t("access.log")};
    client_body_temp_path ${t("client_body")};
    proxy_temp_path ${t("proxy")};
    fastcgi_temp_path ${t("fastcgi")};
    uwsgi_temp_path ${t("uwsgi")};
    scgi_temp_path ${t("scgi")};`;
}

/**
 * The README's upstream and location blocks (keep-alive to the login server);
 * Remote-Name and Remote-Email are set too, so that a client cannot send its own
 * versions of them either.
 */
export function nginxConfig(options: { dir: string; port: number; login: string; upstream: string; runAsRoot: boolean; snippet?: NginxSnippet | undefined }): string {
  // A snippet with its own server blocks (README's) listens on the port itself.
  if (options.snippet?.servers === true) return `${nginxMain(options)}\n${options.snippet.http}\n}\n`;
  return `${nginxMain(options)}
${options.snippet?.http ?? defaultUpstream(options)}
    server {
        listen 127.0.0.1:${options.port};
        server_name _;
${options.snippet?.server ?? defaultLocations(options)}
    }
}
`;
}

/** Documented configuration text to test instead of the built-in locations: what goes in `http {}` and in `server {}`. */
export interface NginxSnippet {
  http: string;
  server: string;
  /** `http` holds whole server blocks, listening on the port: no server block around `server`. */
  servers?: boolean;
}

function defaultUpstream(options: { login: string }): string {
  return `    upstream ssoctl {
        server ${options.login};
        keepalive 64;
        keepalive_timeout 4s;
    }`;
}

function defaultLocations(options: { login: string; upstream: string }): string {
  return `
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
        }
        location / {
            auth_request /_ssoctl;
            auth_request_set $ssoctl_user $upstream_http_remote_user;
            auth_request_set $ssoctl_name $upstream_http_remote_name;
            auth_request_set $ssoctl_email $upstream_http_remote_email;
            auth_request_set $ssoctl_groups $upstream_http_remote_groups;
            auth_request_set $ssoctl_redirect $upstream_http_location;
            error_page 401 =302 $ssoctl_redirect;
            proxy_set_header Remote-User $ssoctl_user;
            proxy_set_header Remote-Name $ssoctl_name;
            proxy_set_header Remote-Email $ssoctl_email;
            proxy_set_header Remote-Groups $ssoctl_groups;
            proxy_pass http://${options.upstream};
        }`;
}

/**
 * The README's "login server behind nginx" server block, without TLS. `bind`: the address
 * nginx connects to the login server from (`proxy_bind`), so that the test can tell the proxy
 * (a trusted proxy) from a client on 127.0.0.1 (not one) on a single machine.
 */
export function loginProxyConfig(options: { dir: string; port: number; login: string; bind: string; runAsRoot: boolean }): string {
  return `${nginxMain(options)}
    server {
        listen 127.0.0.1:${options.port};
        server_name _;

        location / {
            proxy_pass http://${options.login};
            proxy_bind ${options.bind};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }
        location /auth/ {
            return 404;
        }
    }
}
`;
}

/** Starts nginx (`daemon off`, everything under a temporary prefix) on a free port, or on `port`. */
export async function startNginx(options: { loginUrl: string; upstreamUrl: string; port?: number; snippet?: NginxSnippet }): Promise<RunningProxy> {
  const dir = tempDir("nginx");
  const port = options.port ?? (await freePort());
  const config = nginxConfig({
    dir,
    port,
    login: hostPort(options.loginUrl),
    upstream: hostPort(options.upstreamUrl),
    runAsRoot: process.getuid?.() === 0,
    snippet: options.snippet,
  });
  return runNginx(dir, port, config);
}

/** Starts nginx in front of the login server itself, as the README's proxy section shows. */
export async function startLoginProxy(options: { loginUrl: string; bind: string; port?: number }): Promise<RunningProxy> {
  const dir = tempDir("nginx-login");
  const port = options.port ?? (await freePort());
  const config = loginProxyConfig({ dir, port, login: hostPort(options.loginUrl), bind: options.bind, runAsRoot: process.getuid?.() === 0 });
  return runNginx(dir, port, config);
}

/** Runs nginx with `config` (its files under `dir`), ready once `readyUrl` answers (default: `/` on `port`); `stop` removes `dir`. */
export async function runNginx(dir: string, port: number, config: string, readyUrl = `http://127.0.0.1:${port}/`): Promise<RunningProxy> {
  const nginx = requireProgram("nginx", NGINX, "nginx");
  const file = path.join(dir, "nginx.conf");
  fs.writeFileSync(file, config);
  const running = await startProgram({
    name: "nginx",
    command: nginx,
    args: ["-c", file, "-p", dir, "-e", path.join(dir, "error.log")],
    url: readyUrl,
  });
  return {
    ...running,
    port,
    config,
    output: () => running.output() + readIfThere(path.join(dir, "error.log")),
    stop: async () => {
      await running.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readIfThere(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
