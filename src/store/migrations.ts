/** Reading `migrations/<engine>/NNN_name.sql`: each engine has its own folder, applied once each, in order. */
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";

export type Engine = "sqlite" | "postgres";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function migrationsDir(engine: Engine): string {
  return fileURLToPath(new URL(`../../migrations/${engine}/`, import.meta.url));
}

export function loadMigrations(dir: string): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{3}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: fs.readFileSync(`${dir}/${file}`, "utf8"),
    }));
}

/** The refusal for a database written by a newer ssoctl. */
export function newerSchemaMessage(databaseNewest: number, migrations: Migration[]): string | null {
  const newest = Math.max(0, ...migrations.map((m) => m.version));
  if (databaseNewest <= newest) return null;
  return `the database has schema version ${databaseNewest}, newer than this ssoctl knows (${newest}); upgrade ssoctl`;
}
