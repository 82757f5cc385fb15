/**
 * `ssoctl backup FILE`: a consistent copy of the SQLite database taken while the
 * server runs (SQLite's online backup API steps through the pages under a read
 * transaction, so writers are never blocked for long and the copy is one moment's
 * state), and the data directory's key files beside it. Everything is 0600; nothing
 * that already exists is overwritten.
 */
import Database from "better-sqlite3";
import * as fs from "node:fs";
import * as path from "node:path";
import { SsoctlError } from "../errors.js";
import { createPrivateFile, describeFsError, isErrno, DB_FILE, type DataDir } from "../data-dir.js";
import { describeDbError } from "../store/sqlite/store.js";

export interface BackupResult {
  database: string;
  /** Key files written beside the database copy: `FILE.<name>`. */
  keyFiles: string[];
  pages: number;
}

/** The data directory's files other than the database (and its journal): the keys, whatever their names. */
export function keyFilesOf(dataDir: DataDir): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dataDir.dir);
  } catch (error) {
    throw new SsoctlError(`cannot read the data directory ${dataDir.dir}: ${describeFsError(error)}`);
  }
  return names
    .filter((name) => !name.startsWith(DB_FILE) && !name.startsWith("."))
    .filter((name) => fs.statSync(path.join(dataDir.dir, name), { throwIfNoEntry: false })?.isFile() === true)
    .sort();
}

export async function backupSqlite(dataDir: DataDir, target: string): Promise<BackupResult> {
  const database = path.resolve(target);
  if (!fs.existsSync(dataDir.dbPath)) throw new SsoctlError(`no database at ${dataDir.dbPath}; run \`ssoctl init\` first (or pass --data-dir)`);
  const keys = keyFilesOf(dataDir);
  const keyTargets = keys.map((name) => `${database}.${name}`);
  for (const file of [database, ...keyTargets]) {
    if (fs.existsSync(file)) throw new SsoctlError(`${file} already exists; backup never overwrites (choose a new name, or remove it first)`);
  }
  if (!fs.statSync(path.dirname(database), { throwIfNoEntry: false })?.isDirectory()) {
    throw new SsoctlError(`${path.dirname(database)} is not a directory`);
  }

  let source: Database.Database;
  try {
    source = new Database(dataDir.dbPath, { fileMustExist: true });
  } catch (error) {
    if (isErrno(error, "ENOENT") || (error as { code?: string }).code === "SQLITE_CANTOPEN") {
      throw new SsoctlError(`no database at ${dataDir.dbPath}; run \`ssoctl init\` first (or pass --data-dir)`);
    }
    throw new SsoctlError(`cannot open the database ${dataDir.dbPath}: ${describeDbError(error)}`);
  }
  // The copy is written under a temporary name and linked into place only when complete and
  // checked: an interrupted backup never leaves a file that looks like a good one.
  const temp = `${database}.partial-${process.pid}`;
  let pages = 0;
  try {
    source.pragma("busy_timeout = 5000");
    createPrivateFile(temp, "");
    const progress = await source.backup(temp, { progress: (info) => ((pages = info.totalPages), 1000) });
    pages = progress.totalPages;
    const copy = new Database(temp, { fileMustExist: true });
    try {
      const check = copy.pragma("integrity_check", { simple: true });
      if (check !== "ok") throw new SsoctlError(`the copy failed SQLite's integrity check (${String(check)}); the database itself may be damaged`);
      // One file, not three: a WAL-mode copy is switched back so the backup stands alone.
      copy.pragma("journal_mode = DELETE");
    } finally {
      copy.close();
    }
    fs.chmodSync(temp, 0o600);
    linkNew(temp, database);
  } catch (error) {
    if (error instanceof SsoctlError) throw error;
    throw new SsoctlError(`backup failed: ${describeDbError(error)}`);
  } finally {
    source.close();
    fs.rmSync(temp, { force: true });
  }

  const written: string[] = [];
  for (const [index, name] of keys.entries()) {
    const content = fs.readFileSync(path.join(dataDir.dir, name));
    createPrivateFile(keyTargets[index]!, content.toString("utf8"));
    written.push(keyTargets[index]!);
  }
  return { database, keyFiles: written, pages };
}

/** Puts `temp` at `target` only if nothing is there (link fails with EEXIST, where rename would replace). */
function linkNew(temp: string, target: string): void {
  try {
    fs.linkSync(temp, target);
  } catch (error) {
    if (isErrno(error, "EEXIST")) throw new SsoctlError(`${target} already exists; backup never overwrites`);
    throw new SsoctlError(`cannot write ${target}: ${describeFsError(error)}`);
  }
}
