import { Command, Option } from "commander";
import * as fs from "node:fs";
import { UsageError } from "../../errors.js";
import { parseDuration } from "../../duration.js";
import type { ServerConfigInput } from "../../server/config.js";
import { databaseOption, dataDirOption, oidcKeysOf, openStore, signingKeysOf, storeOf, type StoreLocation } from "../context.js";
import { demoCommand } from "./demo.js";
import { protectCommand } from "./protect.js";
import { listenError, untilSignal } from "../lifecycle.js";

/** `serve`, `protect` and `demo`: the long-running commands. */
export function serverCommands(): Command[] {
  return [serveCommand(), protectCommand(), demoCommand()];
}

function duration(flag: string): (text: string) => number {
  return (text) => {
    const seconds = parseDuration(text);
    if (seconds === null) throw new UsageError(`${flag} "${text}" is not a duration like 90s, 15m, 12h or 30d`);
    return seconds;
  };
}

function positiveInteger(flag: string, max = 65535): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isInteger(value) || value > max) throw new UsageError(`${flag} "${text}" is not a whole number from 0 to ${max}`);
    return value;
  };
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function serveCommand(): Command {
  return addServeOptions(new Command("serve").description("run the login server"))
    .action(async (options, command: Command) => {
      await runLoginServer(storeOf(command), serveInputOf(options));
    });
}

/** `serve`'s options, on `serve` and on `doctor` (which checks the settings `serve` would run with). */
export function addServeOptions(command: Command): Command {
  return command
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--port <number>", "port to listen on", positiveInteger("--port"), 8081)
    .option("--public-url <url>", "URL browsers use to reach this server; https makes the cookie Secure (default: http://HOST:PORT)")
    .option("--cookie-name <name>", "login cookie name", "ssoctl")
    .option("--cookie-domain <domain>", "share the login cookie with every host of this domain (default: this host only)")
    .option("--session-ttl <duration>", "how long a sign-in lasts", duration("--session-ttl"), 12 * 3600)
    .option("--no-redirect", "after sign-in show a page with a link instead of redirecting")
    .option("--trusted-proxy <cidr>", "a proxy whose X-Forwarded-* headers count (repeatable; default loopback)", collect)
    .option("--views <dir>", "directory of .ejs pages (and ssoctl.css) that replace the built-in ones")
    .option("--title <text>", "title shown on the pages", "Single sign-on")
    .option("--max-user-failures <n>", "failed sign-ins per username before a lock", positiveInteger("--max-user-failures", 1_000_000), 5)
    .option("--max-addr-failures <n>", "failed sign-ins per client address before a lock", positiveInteger("--max-addr-failures", 1_000_000), 20)
    .option("--failure-window <duration>", "window in which failures are counted", duration("--failure-window"), 600)
    .option("--lockout <duration>", "how long a lock lasts", duration("--lockout"), 600)
    .addOption(new Option("--hash-concurrency <n>", "password checks at once").argParser(positiveInteger("--hash-concurrency", 64)).default(2))
    .addOption(new Option("--hash-queue <n>", "sign-ins that may wait for a password check; past it the server answers 503").argParser(positiveInteger("--hash-queue", 10_000)).default(32))
    .option("--allow-new-passkey-domain", "start although passkeys were registered for another domain (they stop working)")
    .option("--metrics-allow <cidr>", "a client address or range /metrics answers (repeatable; default loopback)", collect)
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

/** The server settings from `serve`'s parsed options (commander types them loosely). */
export function serveInputOf(options: any): ServerConfigInput {
  return {
    metricsAllow: options.metricsAllow,
    host: options.host,
    port: options.port,
    publicUrl: options.publicUrl,
    cookieName: options.cookieName,
    cookieDomain: options.cookieDomain,
    sessionTtlSeconds: options.sessionTtl,
    redirect: options.redirect,
    trustedProxies: options.trustedProxy,
    viewsDir: options.views,
    title: options.title,
    throttle: {
      user: { limit: Math.max(1, options.maxUserFailures), windowSeconds: options.failureWindow, lockSeconds: options.lockout },
      addr: { limit: Math.max(1, options.maxAddrFailures), windowSeconds: options.failureWindow, lockSeconds: options.lockout },
    },
    hashConcurrency: Math.max(1, options.hashConcurrency),
    hashQueueLimit: options.hashQueue,
    allowNewPasskeyDomain: options.allowNewPasskeyDomain === true,
    ldap: ldapInputOf(options),
  };
}

/** Starts the login server on an initialised data directory or database and runs it until SIGINT/SIGTERM. */
export async function runLoginServer(location: StoreLocation, input: ServerConfigInput): Promise<void> {
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
  const signal = await stopped;
  process.stderr.write(`ssoctl: ${signal} received; finishing requests in flight\n`);
  await server.close(10_000);
  await store.close();
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
