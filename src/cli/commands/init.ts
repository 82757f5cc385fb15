import { Command } from "commander";
import { createPrivateFile, generateSecret, prepareNewDataDir } from "../../data-dir.js";
import { SsoctlError } from "../../errors.js";
import { databaseOption, dataDirOption, nowSeconds, oidcKeysOf, openStore, print, storeOf } from "../context.js";

export function initCommand(): Command {
  return new Command("init")
    .description("create the data directory (the SQLite database and a new secret key), or the tables and key in a PostgreSQL database")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (_options, command: Command) => {
      const location = storeOf(command);
      if (location.engine === "postgres") {
        await initDatabase(location);
        return;
      }
      const dataDir = location.dataDir;
      prepareNewDataDir(dataDir);
      const { openSqliteStore } = await import("../../store/sqlite/store.js");
      createPrivateFile(dataDir.dbPath, "");
      const store = openSqliteStore(dataDir.dbPath, { create: true });
      // The SAML identity provider's signing key and certificate (in the database).
      const { ensureSamlKeys, CERTIFICATE_NAME } = await import("../../protocols/saml/keys.js");
      await ensureSamlKeys(store.factors, CERTIFICATE_NAME, nowSeconds());
      await store.close();
      createPrivateFile(dataDir.keyPath, generateSecret() + "\n");
      // The OpenID provider's signing keys (oidc-keys.json, 0600).
      const { ensureOidcKeys } = await import("../../protocols/oidc/keys.js");
      await ensureOidcKeys(await oidcKeysOf(location, store), nowSeconds());
      const flag = command.opts().dataDir === undefined ? "" : ` --data-dir ${dataDir.dir}`;
      print(
        [
          `Created ${dataDir.dir}`,
          `  database:   ${dataDir.dbPath}`,
          `  secret key: ${dataDir.keyPath}`,
          `  OpenID Connect signing keys: ${dataDir.dir}/oidc-keys.json`,
          "",
          "Next steps:",
          `  ssoctl user add alice${flag}               # add a user (asks for a password)`,
          `  ssoctl app add https://app.example.com${flag}   # allow an application to be sent back to`,
          `  ssoctl serve${flag}                        # run the login server`,
        ].join("\n"),
      );
    });
}

/** The tables and the signing key in a PostgreSQL database; refuses one that has a key already. */
async function initDatabase(location: { engine: "postgres"; url: string; source: string }): Promise<void> {
  const { openPostgresStore } = await import("../../store/postgres/store.js");
  const store = await openPostgresStore(location.url, { create: true }, location.source);
  try {
    if (!(await store.createSigningKey(generateSecret(), nowSeconds()))) {
      throw new SsoctlError(`${store.target.where} is already initialised (it has a signing key); ssoctl never overwrites a key`);
    }
    const { ensureOidcKeys } = await import("../../protocols/oidc/keys.js");
    await ensureOidcKeys(await oidcKeysOf(location, store), nowSeconds());
    const { ensureSamlKeys, CERTIFICATE_NAME } = await import("../../protocols/saml/keys.js");
    await ensureSamlKeys(store.factors, CERTIFICATE_NAME, nowSeconds());
    print(
      [
        `Created the ssoctl tables and a new signing key in ${store.target.where}`,
        "",
        location.source === "SSOCTL_DATABASE_URL"
          ? "Next steps (with SSOCTL_DATABASE_URL set, as now, every command uses this database):"
          : "Next steps (set SSOCTL_DATABASE_URL to this URL for the commands and every server; an argument shows in ps):",
        "  ssoctl user add alice                       # add a user (asks for a password)",
        "  ssoctl app add https://app.example.com      # allow an application to be sent back to",
        "  ssoctl serve                                # run a login server; start as many as you like",
      ].join("\n"),
    );
  } finally {
    await store.close();
  }
}
