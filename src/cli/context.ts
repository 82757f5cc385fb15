/** What every data command shares: its configuration (flags, environment, file), --data-dir / --database, and an open store. */
import { Command, Option } from "commander";
import { checkText, Config, DEFAULT_CONFIG_FILE, envName, loadConfig, type FlagValue, type Origin } from "../config/load.js";
import { CONFIG_SECTIONS, type ConfigSection } from "../config/schema.js";
import { dataDirAt, type DataDir } from "../data-dir.js";
import { SsoctlError } from "../errors.js";
import { maskPassword } from "../store/postgres/connection.js";
import type { SigningKeys } from "../signing-keys.js";
import type { Store } from "../store/store.js";

/** Options made from config settings, by the setting's key: `configOf` reads them back. */
const settingOptions = new WeakMap<Option, string>();

/**
 * A flag for a config setting (`server.public_url` → `--public-url`), checked by the setting's own
 * check and shown with its variable, so a flag means what the file's key and the variable mean.
 */
export function settingOption(key: string, options: { describe?: string; short?: string } = {}): Option {
  const [sectionName, ...rest] = key.split(".");
  const section = (CONFIG_SECTIONS as Record<string, ConfigSection>)[sectionName!];
  const setting = section?.settings[rest.join(".")];
  if (section === undefined || setting === undefined) throw new Error(`no setting ${key} in the config schema`);
  const name = setting.flag ?? rest.join("-").replace(/_/g, "-");
  const variable = envName(section, rest.join("."));
  const shownDefault = setting.default === undefined || typeof setting.default === "function" ? "" : `; default: ${setting.format(setting.default)}`;
  const help = `${options.describe ?? setting.flagDescribe ?? setting.describe} [${variable}${shownDefault}]`;
  const short = options.short === undefined ? "" : `${options.short}, `;
  let option: Option;
  if (setting.negatedFlag === true) {
    option = new Option(`${short}--no-${name}`, help);
  } else if (setting.expected === "true or false") {
    option = new Option(`${short}--${name}`, help);
  } else {
    option = new Option(`${short}--${name} <${setting.placeholder ?? "value"}>`, help).argParser((text: string, previous: unknown) => {
      const value = checkText(setting, text, `--${name}`);
      return setting.repeatable === true ? [...((previous as unknown[] | undefined) ?? []), ...(value as unknown[])] : value;
    });
  }
  settingOptions.set(option, key);
  return option;
}

export function dataDirOption(): Option {
  return settingOption("storage.data_dir", { short: "-d" });
}

export function databaseOption(): Option {
  return settingOption("storage.database_url", {
    describe:
      "PostgreSQL database shared by several login servers, postgres://USER@HOST/DB (prefer the variable or the config file's " +
      "database_url_file: an argument shows in ps; without either: SQLite in the data directory)",
  });
}

/** The config file's option, on the program: `ssoctl --config FILE COMMAND` or `ssoctl COMMAND --config FILE`. */
export function configFileOption(): Option {
  return new Option("--config <file>", `the config file [SSOCTL_CONFIG; default: ${DEFAULT_CONFIG_FILE} when it exists]`);
}

/** The effective configuration of a command: its flags, then the environment, the file, the defaults. */
export function configOf(command: Command, env: NodeJS.ProcessEnv = process.env): Config {
  const flags = new Map<string, FlagValue>();
  const values = command.opts<Record<string, unknown>>();
  for (const option of command.options) {
    const key = settingOptions.get(option);
    if (key === undefined || command.getOptionValueSource(option.attributeName()) !== "cli") continue;
    flags.set(key, { value: values[option.attributeName()], flag: option.long ?? option.flags });
  }
  return loadConfig({ configFlag: command.optsWithGlobals<{ config?: string }>().config, flags, env });
}

export function dataDirOf(command: Command, env: NodeJS.ProcessEnv = process.env): DataDir {
  return dataDirAt(configOf(command, env).get<string>("storage.data_dir")!);
}

/** Where a command's data lives: SQLite in a data directory, or a PostgreSQL database. */
export type StoreLocation = { engine: "sqlite"; dataDir: DataDir } | { engine: "postgres"; url: string; source: string };

/** `--database`, else `SSOCTL_DATABASE_URL`, else the config file's, else the data directory's SQLite file. */
export function storeOf(command: Command, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  return storeOfConfig(configOf(command, env));
}

export function storeOfConfig(config: Config): StoreLocation {
  const database = config.entry("storage.database_url");
  const dataDir = config.entry("storage.data_dir");
  if (database.value === undefined) return { engine: "sqlite", dataDir: dataDirAt(dataDir.value as string) };
  if (dataDir.origin.kind === "flag") {
    throw new SsoctlError("--data-dir and a database URL (--database or SSOCTL_DATABASE_URL) name two places; give one", { exitCode: 2 });
  }
  const url = database.value as string;
  if (database.origin.kind === "flag") hidePasswordFromPs(url);
  return { engine: "postgres", url, source: originName(database.origin, "storage.database_url") };
}

/** How a value's origin reads in a message: `--port`, `SSOCTL_PORT`, `/etc/ssoctl/ssoctl.yaml:3`. */
export function originName(origin: Origin, key: string): string {
  switch (origin.kind) {
    case "flag":
    case "env":
      return origin.name;
    case "file":
      return `${key} (${origin.file}:${origin.line})`;
    case "default":
      return `${key} (default)`;
  }
}

/**
 * A password given in `--database` shows in `ps` to every local user. Node's process.title
 * rewrites the memory `ps` reads (/proc/PID/cmdline), so the argument is masked from here on, as
 * typed (see maskPassword); the variable or a password file is still the safe way, which the
 * option's help and the README say.
 */
export function hidePasswordFromPs(url: string): void {
  const masked = maskPassword(url);
  if (masked === url) return;
  try {
    process.title = process.argv.map((arg) => (arg.includes(url) ? arg.replace(url, masked) : arg)).join(" ");
  } catch {
    // Not supported here: nothing more to do.
  }
}

export interface OpenStoreOptions {
  /** Only `init` and `db copy`: create the SQLite file / the PostgreSQL schema. */
  create?: boolean;
  /** The login server: follow other servers' writes (PostgreSQL LISTEN). */
  listen?: boolean;
  onListenChange?: (event: { connected: boolean; error?: string }) => void;
}

/** Opens the store (loading its engine only now, so `--version` stays fast). */
export async function openStore(location: StoreLocation, options: OpenStoreOptions = {}): Promise<Store> {
  if (location.engine === "postgres") {
    const { openPostgresStore } = await import("../store/postgres/store.js");
    return openPostgresStore(location.url, options, location.source);
  }
  const { openSqliteStore } = await import("../store/sqlite/store.js");
  return openSqliteStore(location.dataDir.dbPath, { create: options.create });
}

/** The current signing key's home: `secret.key` in the data directory, or the database. */
export async function signingKeysOf(location: StoreLocation, store: Store): Promise<SigningKeys> {
  const { DatabaseSigningKeys, FileSigningKeys } = await import("../signing-keys.js");
  if (location.engine === "postgres") return new DatabaseSigningKeys(store as unknown as import("../signing-keys.js").SigningKeyTable);
  return new FileSigningKeys(location.dataDir, store);
}

/** Opens the store, runs `work`, closes it. A data directory stands for its SQLite file. */
export async function withStore<T>(location: StoreLocation | DataDir, work: (store: Store) => Promise<T>): Promise<T> {
  const where: StoreLocation = "engine" in location ? location : { engine: "sqlite", dataDir: location };
  const store = await openStore(where);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
}

/** Where the OpenID provider's signing keys live: `oidc-keys.json` in the data directory, or the database. */
export async function oidcKeysOf(location: StoreLocation, store: Store): Promise<import("../protocols/oidc/keys.js").OidcKeyStorage> {
  const { DatabaseOidcKeys, FileOidcKeys } = await import("../protocols/oidc/keys.js");
  if (location.engine === "postgres") return new DatabaseOidcKeys(store as unknown as import("../store/store.js").OidcKeyTable);
  return new FileOidcKeys(location.dataDir);
}
