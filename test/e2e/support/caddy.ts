/** Real Caddy with `forward_auth` in front of an app, configured as INTEGRATIONS.md shows. */
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort, requireProgram, startProgram, tempDir } from "./processes.js";
import { hostPort, type RunningProxy } from "./nginx.js";

export const CADDY = "/usr/bin/caddy";

export function caddyConfig(options: { dir: string; port: number; login: string; upstream: string; site?: string | undefined }): string {
  return `{
    admin off
    auto_https off
    storage file_system ${path.join(options.dir, "storage")}
}

${options.site ?? defaultSite(options)}`;
}

function defaultSite(options: { port: number; login: string; upstream: string }): string {
  return `http://127.0.0.1:${options.port} {
    forward_auth ${options.login} {
        uri /auth/forward
        copy_headers Remote-User Remote-Groups Remote-Name Remote-Email
    }
    reverse_proxy ${options.upstream}
}
`;
}

/** Starts `caddy run` on a free port with HOME and XDG_* in a temporary directory; `site` replaces the built-in site block. */
export async function startCaddy(options: { loginUrl: string; upstreamUrl: string; port?: number; site?: string }): Promise<RunningProxy> {
  const caddy = requireProgram("caddy", CADDY, "caddy");
  const dir = tempDir("caddy");
  const port = options.port ?? (await freePort());
  const config = caddyConfig({ dir, port, login: hostPort(options.loginUrl), upstream: hostPort(options.upstreamUrl), site: options.site });
  const file = path.join(dir, "Caddyfile");
  fs.writeFileSync(file, config);
  const running = await startProgram({
    name: "caddy",
    command: caddy,
    args: ["run", "--config", file, "--adapter", "caddyfile"],
    url: `http://127.0.0.1:${port}/`,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      XDG_DATA_HOME: path.join(dir, "data"),
      XDG_CONFIG_HOME: path.join(dir, "config"),
    },
  });
  return {
    ...running,
    port,
    config,
    stop: async () => {
      await running.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
