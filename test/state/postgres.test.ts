/** `ssoctl apply` / `export` on PostgreSQL: the shared suite (one transaction, round trip, nothing written twice). */
import { afterAll, beforeAll } from "vitest";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { testApply } from "./apply-suite.js";

let cluster: TestPostgres;

beforeAll(async () => {
  cluster = await startTestPostgres();
});

afterAll(() => {
  cluster?.destroy();
});

testApply("postgres", async () => {
  const store = await openPostgresStore(await cluster.createDatabase(), { create: true });
  const others: PostgresStore[] = [];
  return {
    store,
    another: async () => {
      const other = await openPostgresStore(await cluster.createDatabase(), { create: true });
      others.push(other);
      return other;
    },
    // The audit count and the exported state stand for "nothing written" here.
    writeMarker: async () => null,
    cleanup: async () => {
      await store.close();
    },
  };
});
