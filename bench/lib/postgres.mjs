/**
 * A throwaway PostgreSQL cluster for the benchmarks (the recipe of test/support/postgres.ts):
 * initdb + pg_ctl in a temporary directory, Unix socket only, as `postgres` when run as root.
 * Unlike the test cluster it keeps synchronous_commit on, as a real installation would.
 */
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pg from "pg";

const PG_BIN = process.env.SSOCTL_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";

function asPostgres(args) {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", ...args]] : [args[0], args.slice(1)];
}

function run(args, what) {
  const [file, rest] = asPostgres(args);
  const result = spawnSync(file, rest, { encoding: "utf8", timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${what} failed: ${result.stderr}${result.stdout}`);
}

export async function startCluster() {
  if (!fs.existsSync(path.join(PG_BIN, "initdb"))) throw new Error(`PostgreSQL is needed (apt-get install postgresql): no ${PG_BIN}/initdb`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-bench-pg-"));
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres:postgres", dir]);
  fs.chmodSync(dir, 0o700);
  const data = path.join(dir, "data");
  run([path.join(PG_BIN, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb");
  run([path.join(PG_BIN, "pg_ctl"), "-D", data, "-l", path.join(dir, "log"), "-w", "-o", `-c listen_addresses='' -k ${dir} -c max_connections=200`, "start"], "pg_ctl start");
  const url = (database) => `postgres://postgres@localhost/${database}?host=${encodeURIComponent(dir)}`;
  const admin = new pg.Client({ connectionString: url("postgres") });
  await admin.connect();
  await admin.query("CREATE DATABASE ssoctl_bench");
  await admin.end();
  return {
    url: url("ssoctl_bench"),
    stop: () => {
      try {
        run([path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], "pg_ctl stop");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
