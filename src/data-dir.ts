/** The data directory: where it is, creating it safely, and the secret key file. */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SsoctlError } from "./errors.js";

export const DB_FILE = "ssoctl.db";
export const KEY_FILE = "secret.key";

export interface DataDir {
  dir: string;
  dbPath: string;
  keyPath: string;
}

/** The system's data directory, which the systemd unit's StateDirectory=ssoctl makes. */
export const SYSTEM_DATA_DIR = "/var/lib/ssoctl";

/**
 * Where data lives when no directory is named: the system's directory when it exists or the
 * command runs under a service manager (systemd sets INVOCATION_ID and JOURNAL_STREAM), else the
 * user's XDG data directory. Never the working directory: a server started from `/` or a
 * checkout would scatter databases wherever it happened to run.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, exists: (dir: string) => boolean = fs.existsSync): string {
  if (exists(SYSTEM_DATA_DIR) || isUnderServiceManager(env)) return SYSTEM_DATA_DIR;
  const xdg = env.XDG_DATA_HOME;
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, "ssoctl");
  return path.join(env.HOME ?? os.homedir(), ".local", "share", "ssoctl");
}

export function isUnderServiceManager(env: NodeJS.ProcessEnv): boolean {
  return (env.INVOCATION_ID ?? "") !== "" || (env.JOURNAL_STREAM ?? "") !== "";
}

/** `--data-dir`, else `SSOCTL_DATA_DIR`, else the default above (for commands that do not read the config file). */
export function resolveDataDir(option: string | undefined, env: NodeJS.ProcessEnv = process.env): DataDir {
  return dataDirAt(option ?? env.SSOCTL_DATA_DIR ?? defaultDataDir(env));
}

export function dataDirAt(dir: string): DataDir {
  const absolute = path.resolve(dir);
  return { dir: absolute, dbPath: path.join(absolute, DB_FILE), keyPath: path.join(absolute, KEY_FILE) };
}

/** 256 random bits, base64url: the text of `secret.key`. */
export function generateSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Refuses when either file exists: nothing ever overwrites a database or key. */
export function prepareNewDataDir(dataDir: DataDir): void {
  for (const file of [dataDir.dbPath, dataDir.keyPath]) {
    if (fs.existsSync(file)) {
      throw new SsoctlError(`${file} already exists; ssoctl never overwrites a database or key (choose another --data-dir)`);
    }
  }
  try {
    fs.mkdirSync(dataDir.dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dataDir.dir, 0o700);
  } catch (error) {
    throw new SsoctlError(`cannot create the data directory ${dataDir.dir}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Creates an empty file readable only by its owner; fails when it exists. */
export function createPrivateFile(file: string, content: string): void {
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      fs.writeSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    throw new SsoctlError(`cannot create ${file}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Replaces a file atomically (write, fsync, rename), keeping it 0600. */
export function replacePrivateFile(file: string, content: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, content, { mode: 0o600, flag: "wx" });
    const fd = fs.openSync(temp, "r");
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw new SsoctlError(`cannot write ${file}: ${describeFsError(error)}`, { cause: error });
  }
}

/** Reads the current secret; a clear error when the directory was never initialised. */
export function readSecret(dataDir: DataDir): string {
  let text: string;
  try {
    text = fs.readFileSync(dataDir.keyPath, "utf8");
  } catch (error) {
    if (isErrno(error, "ENOENT")) {
      throw new SsoctlError(`no secret key at ${dataDir.keyPath}; run \`ssoctl init\` first (or pass --data-dir)`);
    }
    throw new SsoctlError(`cannot read ${dataDir.keyPath}: ${describeFsError(error)}`, { cause: error });
  }
  const secret = text.trim();
  if (!/^[A-Za-z0-9_-]{43,}$/.test(secret)) {
    throw new SsoctlError(`${dataDir.keyPath} does not hold a valid key (expected 256 bits, base64url)`);
  }
  return secret;
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as NodeJS.ErrnoException).code === code;
}

export function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  switch (e?.code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOENT":
      return "no such file or directory";
    case "EEXIST":
      return "it already exists";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EROFS":
      return "the file system is read-only";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return e?.message ?? String(error);
  }
}
