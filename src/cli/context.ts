/** What every data command shares: --data-dir / --database, and an open store. */
import { Command, Option } from "commander";
import { resolveDataDir, type DataDir } from "../data-dir.js";
import { SsoctlError } from "../errors.js";
import { maskPassword } from "../store/postgres/connection.js";
import type { SigningKeys } from "../signing-keys.js";
import type { Store } from "../store/store.js";

export function dataDirOption(): Option {
  return new Option("-d, --data-dir <dir>", "data directory (default: $SSOCTL_DATA_DIR or ./ssoctl-data)");
}

export function databaseOption(): Option {
  return new Option(
    "--database <url>",
    "PostgreSQL database shared by several login servers, postgres://USER@HOST/DB (default: $SSOCTL_DATABASE_URL; " +
      "prefer the variable, an argument shows in ps; without either: SQLite in the data directory)",
  );
}

export function dataDirOf(command: Command): DataDir {
  return resolveDataDir(command.opts<{ dataDir?: string }>().dataDir);
}

/** Where a command's data lives: SQLite in a data directory, or a PostgreSQL database. */
export type StoreLocation = { engine: "sqlite"; dataDir: DataDir } | { engine: "postgres"; url: string; source: string };

/** `--database`, else `SSOCTL_DATABASE_URL`, else the data directory's SQLite file. */
export function storeOf(command: Command, env: NodeJS.ProcessEnv = process.env): StoreLocation {
  const options = command.opts<{ dataDir?: string; database?: string }>();
  const fromEnv = env.SSOCTL_DATABASE_URL;
  const url = options.database ?? (fromEnv === undefined || fromEnv.trim() === "" ? undefined : fromEnv.trim());
  if (url === undefined) return { engine: "sqlite", dataDir: dataDirOf(command) };
  if (options.dataDir !== undefined) {
    throw new SsoctlError("--data-dir and a database URL (--database or SSOCTL_DATABASE_URL) name two places; give one", { exitCode: 2 });
  }
  const source = options.database !== undefined ? "--database" : "SSOCTL_DATABASE_URL";
  if (options.database !== undefined) hidePasswordFromPs(options.database);
  return { engine: "postgres", url, source };
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
