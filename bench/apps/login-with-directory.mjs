// The login server over a data directory with a directory as its user source (the directory section
// has no serve flag yet): argv DATA_DIR DIRECTORY_OPTIONS_JSON; sends { ready: url } when listening.
import { resolveServerConfig } from "../../dist/server/config.js";
import { startLoginServer } from "../../dist/server/app.js";
import { resolveDataDir } from "../../dist/data-dir.js";
import { openSqliteStore } from "../../dist/store/sqlite/store.js";

const [dataDirPath, optionsJson] = process.argv.slice(2);
const dataDir = resolveDataDir(dataDirPath);
const store = openSqliteStore(dataDir.dbPath);
const config = resolveServerConfig({ host: "127.0.0.1", port: 0, hashConcurrency: 2, directory: { options: JSON.parse(optionsJson) } });
const server = await startLoginServer(config, { store, dataDir, auditWrite: () => {} });
process.send({ ready: server.url });
process.on("SIGTERM", async () => {
  await server.close(2000);
  await store.close();
  process.exit(0);
});
