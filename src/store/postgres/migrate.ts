/**
 * Applies `migrations/postgres/NNN_name.sql` once each, in order, each in a transaction
 * that first takes an advisory lock: servers starting at once apply each migration once.
 */
import type pg from "pg";
import { SsoctlError } from "../../errors.js";
import { loadMigrations, migrationsDir, newerSchemaMessage, type Migration } from "../migrations.js";

/** pg_advisory_xact_lock key: "ssoctl" as a number, so other applications' locks do not collide. */
const MIGRATION_LOCK = 0x7373_6f63_746c;

export async function hasSchema(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
  return result.rows[0]!.present;
}

async function appliedVersions(client: pg.ClientBase): Promise<Set<number>> {
  if (!(await hasSchema(client))) return new Set();
  const result = await client.query<{ version: number }>("SELECT version FROM schema_migrations");
  return new Set(result.rows.map((row) => Number(row.version)));
}

export async function applyPostgresMigrations(client: pg.ClientBase, migrations: Migration[] = loadMigrations(migrationsDir("postgres"))): Promise<number> {
  const applied = await appliedVersions(client);
  const newer = newerSchemaMessage(Math.max(0, ...applied), migrations);
  if (newer !== null) throw new SsoctlError(newer);
  let count = 0;
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    await client.query("BEGIN");
    try {
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
      );
      // Another server may have applied it while we waited for the lock.
      const done = await client.query("SELECT 1 FROM schema_migrations WHERE version = $1", [migration.version]);
      if (done.rowCount === 0) {
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [
          migration.version,
          migration.name,
          Math.floor(Date.now() / 1000),
        ]);
        count += 1;
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    }
  }
  return count;
}
