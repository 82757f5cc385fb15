import { Command } from "commander";
import * as fs from "node:fs";
import { DEFAULT_CONFIG_FILE, type Config } from "../../config/load.js";
import { CONFIG_SECTIONS } from "../../config/schema.js";
import { UsageError } from "../../errors.js";
import type { ServerConfigInput } from "../../server/config.js";
import { configOf, databaseOption, dataDirOption, oidcKeysOf, openStore, settingOption, signingKeysOf, storeOfConfig, type StoreLocation } from "../context.js";
import { demoCommand } from "./demo.js";
import { protectCommand } from "./protect.js";
import { listenError, untilSignal } from "../lifecycle.js";

/** `serve`, `protect` and `demo`: the long-running commands. */
export function serverCommands(): Command[] {
  return [serveCommand(), protectCommand(), demoCommand()];
}

function serveCommand(): Command {
  return addServeOptions(new Command("serve").description(`run the login server; settings come from the flags, SSOCTL_* variables and the config file (${DEFAULT_CONFIG_FILE} when it exists), in that order`))
    .addHelpText("after", "\nData directory when none is given: /var/lib/ssoctl when it exists or under a service manager (systemd), else $XDG_DATA_HOME/ssoctl (~/.local/share/ssoctl).")
    .action(async (_options, command: Command) => {
      const config = configOf(command);
      // SIGHUP reads the file again, with the same flags and environment.
      await runLoginServer(storeOfConfig(config), serveInputOf(config, command.opts()), { reload: () => serveInputOf(configOf(command), command.opts()) });
    });
}

/** `serve`'s options, on `serve` and on `doctor` (which checks the settings `serve` would run with): one per `server` setting. */
export function addServeOptions(command: Command): Command {
  for (const key of Object.keys(CONFIG_SECTIONS.server.settings)) command.addOption(settingOption(`server.${key}`));
  return command
    .option("--ldap-listen <host:port>", "serve the LDAP interface for apps here (plain LDAP; StartTLS with --ldap-tls-cert-file)", listenAddress("--ldap-listen"))
    .option("--ldaps-listen <host:port>", "serve the LDAP interface over TLS (LDAPS) here", listenAddress("--ldaps-listen"))
    .option("--ldap-base-dn <dn>", "the LDAP interface's base DN: users are uid=NAME,ou=people,DN, groups cn=NAME,ou=groups,DN")
    .option("--ldap-tls-cert-file <file>", "PEM certificate (chain) for LDAPS and StartTLS")
    .option("--ldap-tls-key-file <file>", "PEM private key for LDAPS and StartTLS")
    .addOption(dataDirOption())
    .addOption(databaseOption());
}

function listenAddress(flag: string): (text: string) => { host: string; port: number } {
  return (text) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
    const port = Number(match?.[3]);
    if (match === null || port > 65535) throw new UsageError(`${flag} "${text}" is not HOST:PORT (for example 127.0.0.1:3890)`);
    return { host: match[1] ?? match[2]!, port };
  };
}

function readPem(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
}

/** The LDAP interface's settings, when `serve` was asked to listen for LDAP. */
function ldapInputOf(options: any): ServerConfigInput["ldap"] {
  if (options.ldapListen === undefined && options.ldapsListen === undefined) {
    if (options.ldapBaseDn !== undefined || options.ldapTlsCertFile !== undefined) throw new UsageError("--ldap-base-dn and --ldap-tls-* need --ldap-listen or --ldaps-listen");
    return undefined;
  }
  if (options.ldapBaseDn === undefined) throw new UsageError("--ldap-listen needs --ldap-base-dn (for example dc=example,dc=org)");
  if ((options.ldapTlsCertFile === undefined) !== (options.ldapTlsKeyFile === undefined)) throw new UsageError("--ldap-tls-cert-file and --ldap-tls-key-file go together");
  if (options.ldapsListen !== undefined && options.ldapTlsCertFile === undefined) throw new UsageError("--ldaps-listen needs --ldap-tls-cert-file and --ldap-tls-key-file");
  const tls = options.ldapTlsCertFile === undefined ? undefined : { cert: readPem("--ldap-tls-cert-file", options.ldapTlsCertFile), key: readPem("--ldap-tls-key-file", options.ldapTlsKeyFile) };
  return { baseDn: options.ldapBaseDn, listen: options.ldapListen, ldapsListen: options.ldapsListen, tls };
}

/** The server settings from the effective configuration (and the LDAP interface's flags, which have no config keys yet). */
export function serveInputOf(config: Config, options: any = {}): ServerConfigInput {
  const get = <T>(key: string): T => config.get<T>(`server.${key}`)!;
  return {
    metricsAllow: config.get<string[]>("server.metrics_allow"),
    host: get("host"),
    port: get("port"),
    publicUrl: config.get<string>("server.public_url"),
    cookieName: get("cookie_name"),
    cookieDomain: config.get<string>("server.cookie_domain"),
    sessionTtlSeconds: get("session_ttl"),
    redirect: get("redirect"),
    trustedProxies: config.get<string[]>("server.trusted_proxy"),
    viewsDir: config.get<string>("server.views"),
    title: get("title"),
    throttle: {
      user: { limit: get("max_user_failures"), windowSeconds: get("failure_window"), lockSeconds: get("lockout") },
      addr: { limit: get("max_addr_failures"), windowSeconds: get("failure_window"), lockSeconds: get("lockout") },
      ipv6Prefix: get("ipv6_prefix"),
    },
    hashConcurrency: get("hash_concurrency"),
    hashQueueLimit: get("hash_queue"),
    allowNewPasskeyDomain: get("allow_new_passkey_domain"),
    enrolment: get<boolean>("strict_enrolment") ? "strict" : "open",
    ldap: ldapInputOf(options),
  };
}

/** Starts the login server on an initialised data directory or database and runs it until SIGINT/SIGTERM; SIGHUP reloads. */
export async function runLoginServer(location: StoreLocation, input: ServerConfigInput, options: { reload?: () => ServerConfigInput } = {}): Promise<void> {
  const { resolveServerConfig } = await import("../../server/config.js");
  let config;
  try {
    config = resolveServerConfig(input);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (config.cookieDomain !== undefined) {
    const { cookieDomainProblem } = await import("../../cookie.js");
    const problem = cookieDomainProblem(new URL(config.publicUrl).hostname, config.cookieDomain);
    if (problem !== null) throw new UsageError(`${problem.reason}; ${problem.fix}`);
  }
  if (location.engine === "sqlite") {
    const { readSecret } = await import("../../data-dir.js");
    readSecret(location.dataDir);
  }
  if (config.viewsDir !== undefined && !fs.statSync(config.viewsDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new UsageError(`--views ${config.viewsDir} is not a directory`);
  }
  const { startLoginServer } = await import("../../server/app.js");
  const store = await openStore(location, { listen: true, onListenChange: logListenChange });
  const stopped = untilSignal();
  let server;
  try {
    const keys = await signingKeysOf(location, store);
    server = await startLoginServer(config, { store, keys, oidcKeys: await oidcKeysOf(location, store) });
  } catch (error) {
    await store.close();
    throw listenError(error, config.host, config.port);
  }
  // Which database, never its password.
  const database = location.engine === "postgres" ? `, database ${(await import("../../store/postgres/connection.js")).parsePostgresUrl(location.url).where}` : "";
  process.stderr.write(`ssoctl: login server listening on ${server.url} (public URL ${server.context.config.publicUrl}${database}); Ctrl-C stops it\n`);
  const ldapUrls = server.ldap === null ? [] : [server.ldap.urls.ldap, server.ldap.urls.ldaps].filter((u) => u !== undefined);
  if (ldapUrls.length > 0) process.stderr.write(`ssoctl: LDAP interface listening on ${ldapUrls.join(" and ")} (base DN ${server.context.config.ldap!.baseDn})\n`);
  logEvent({ event: "server.started", url: server.url, publicUrl: server.context.config.publicUrl });
  const running = server;
  let current = config;
  const reload = (): void => {
    if (options.reload === undefined) return;
    void (async () => {
      try {
        const { resolveServerConfig: resolve } = await import("../../server/config.js");
        const { reloadServer } = await import("../../server/reload.js");
        const next = resolve(options.reload!());
        const result = reloadServer(running, current, next);
        // Only the live settings changed; the others run as they started, so the next reload reports them again.
        current = { ...current, trustedProxies: next.trustedProxies, metricsAllow: next.metricsAllow, throttle: next.throttle };
        logEvent({ event: "config.reloaded", changed: result.changed, needsRestart: result.needsRestart });
      } catch (error) {
        logEvent({ event: "config.reload_failed", error: (error as Error).message, detail: "the running settings stay as they were" });
      }
    })();
  };
  process.on("SIGHUP", reload);
  const signal = await stopped;
  process.off("SIGHUP", reload);
  logEvent({ event: "server.stopping", signal });
  process.stderr.write(`ssoctl: ${signal} received; finishing requests in flight\n`);
  await server.close(10_000);
  await store.close();
}

/** One JSON line on stdout, beside the audit events, for journald and log shippers. */
function logEvent(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...fields }) + "\n");
}

/** The database's change notifications: while they are lost the server reads the database on every request. */
function logListenChange(event: { connected: boolean; error?: string }): void {
  process.stderr.write(
    JSON.stringify({
      time: new Date().toISOString(),
      event: event.connected ? "database.notifications_restored" : "database.notifications_lost",
      detail: event.connected ? "caches in use again" : `${event.error ?? "connection lost"}; caches dropped, reading the database per request, reconnecting`,
    }) + "\n",
  );
}
