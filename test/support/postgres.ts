/**
 * A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temporary directory,
 * reachable only through a Unix socket in that directory (no port to collide on).
 * As root the server runs as the `postgres` user (it refuses root). A missing
 * PostgreSQL is a failure with a clear message, never a skipped test.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";

const PG_BIN = process.env.SSOCTL_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export interface TestPostgres {
  /** The socket directory (the `host` of a Unix-socket connection). */
  socketDir: string;
  /** `postgres://postgres@localhost/NAME?host=SOCKETDIR` */
  url(database: string): string;
  /** A new empty database; its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** A role that must give `password` (scram-sha-256), where every other role is trusted. */
  createPasswordRole(name: string, password: string): Promise<void>;
  /**
   * Stops the server; every connection breaks, as in an outage. "fast" (the default) writes out
   * what was committed first (the test cluster runs with synchronous_commit=off); "immediate" is a crash.
   */
  stop(mode?: "fast" | "immediate"): void;
  start(): void;
  /** Stops it and removes every file. */
  destroy(): void;
  log(): string;
}

let databases = 0;

function asPostgres(args: string[]): { file: string; args: string[] } {
  const root = process.getuid?.() === 0;
  return root ? { file: "runuser", args: ["-u", "postgres", "--", ...args] } : { file: args[0]!, args: args.slice(1) };
}

function run(args: string[], what: string): void {
  const command = asPostgres(args);
  const result = spawnSync(command.file, command.args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  if (result.status !== 0) {
    throw new Error(`${what} failed (${result.error?.message ?? `exit ${result.status}`}): ${result.stderr}${result.stdout}`);
  }
}

/** Starts a new cluster; call `destroy()` in afterAll. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const initdb = path.join(PG_BIN, "initdb");
  if (!fs.existsSync(initdb)) {
    throw new Error(
      `PostgreSQL is required by these tests but ${initdb} does not exist. Install it (apt-get install postgresql) ` +
        "or set SSOCTL_TEST_PG_BIN to the directory holding initdb and pg_ctl.",
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-pg-"));
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres:postgres", dir]);
  fs.chmodSync(dir, 0o700);
  const data = path.join(dir, "data");
  const logFile = path.join(dir, "log");
  run([initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb");
  const options = `-c listen_addresses='' -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const pgCtl = path.join(PG_BIN, "pg_ctl");
  const cluster: TestPostgres = {
    socketDir: dir,
    url: (database) => `postgres://postgres@localhost/${database}?host=${encodeURIComponent(dir)}`,
    createDatabase: async (prefix = "ssoctl_test") => {
      databases += 1;
      const name = `${prefix}_${process.pid}_${databases}`;
      const client = new pg.Client({ host: dir, user: "postgres", database: "postgres" });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return cluster.url(name);
    },
    createPasswordRole: async (name, password) => {
      const client = new pg.Client({ host: dir, user: "postgres", database: "postgres" });
      await client.connect();
      try {
        await client.query(`CREATE ROLE ${name} LOGIN SUPERUSER PASSWORD '${password.replace(/'/g, "''")}'`);
        const hba = path.join(data, "pg_hba.conf");
        fs.writeFileSync(hba, `local all ${name} scram-sha-256\n` + fs.readFileSync(hba, "utf8"));
        await client.query("SELECT pg_reload_conf()");
      } finally {
        await client.end();
      }
    },
    stop: (mode = "fast") => run([pgCtl, "-D", data, "-m", mode, "-w", "stop"], "pg_ctl stop"),
    start: () => run([pgCtl, "-D", data, "-l", logFile, "-w", "-o", options, "start"], "pg_ctl start"),
    destroy: () => {
      try {
        cluster.stop("immediate");
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    log: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""),
  };
  cluster.start();
  return cluster;
}
