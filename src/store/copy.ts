/** `ssoctl db copy`: a SQLite installation into an empty PostgreSQL database, all or nothing. */
import { readSecret, type DataDir } from "../data-dir.js";
import { SsoctlError } from "../errors.js";
import { countsOf, type SnapshotCounts } from "./snapshot.js";

export interface CopyResult {
  from: string;
  to: string;
  counts: SnapshotCounts;
}

export async function copyToPostgres(dataDir: DataDir, url: string, source: string, now: number): Promise<CopyResult> {
  const { parsePostgresUrl } = await import("./postgres/connection.js");
  // A bad URL is reported before anything is read.
  parsePostgresUrl(url, source);
  const signingKey = readSecret(dataDir);
  const { openSqliteStore } = await import("./sqlite/store.js");
  const sqlite = openSqliteStore(dataDir.dbPath, { readonly: true });
  let snapshot;
  try {
    snapshot = sqlite.snapshot(signingKey, now);
    const { FileOidcKeys } = await import("../protocols/oidc/keys.js");
    snapshot.oidc = { ...sqlite.oidcSnapshot(), jwks: await new FileOidcKeys(dataDir).read() };
  } finally {
    await sqlite.close();
  }
  const { openPostgresStore } = await import("./postgres/store.js");
  const postgres = await openPostgresStore(url, { create: true }, source);
  try {
    if (!(await postgres.importSnapshot(snapshot))) {
      throw new SsoctlError(`${postgres.target.where} is not empty; db copy only writes into an empty database (create a new one, or drop its ssoctl tables)`);
    }
    return { from: dataDir.dir, to: postgres.target.where, counts: countsOf(snapshot) };
  } finally {
    await postgres.close();
  }
}
