/** What every data-directory command shares: the --data-dir option and an open store. */
import { Command, Option } from "commander";
import { resolveDataDir, type DataDir } from "../data-dir.js";
import type { Store } from "../store/store.js";

export function dataDirOption(): Option {
  return new Option("-d, --data-dir <dir>", "data directory (default: $SSOCTL_DATA_DIR or ./ssoctl-data)");
}

export function dataDirOf(command: Command): DataDir {
  return resolveDataDir(command.opts<{ dataDir?: string }>().dataDir);
}

/** Opens the store (loading SQLite only now, so `--version` stays fast), runs `work`, closes it. */
export async function withStore<T>(dataDir: DataDir, work: (store: Store) => Promise<T>): Promise<T> {
  const { openSqliteStore } = await import("../store/sqlite.js");
  const store = openSqliteStore(dataDir.dbPath);
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
