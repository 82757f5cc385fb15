import { Command } from "commander";
import { createPrivateFile, generateSecret, prepareNewDataDir } from "../../data-dir.js";
import { dataDirOf, dataDirOption, print } from "../context.js";

export function initCommand(): Command {
  return new Command("init")
    .description("create the data directory: the SQLite database and a new secret key")
    .addOption(dataDirOption())
    .action(async (_options, command: Command) => {
      const dataDir = dataDirOf(command);
      prepareNewDataDir(dataDir);
      const { openSqliteStore } = await import("../../store/sqlite.js");
      createPrivateFile(dataDir.dbPath, "");
      const store = openSqliteStore(dataDir.dbPath, { create: true });
      await store.close();
      createPrivateFile(dataDir.keyPath, generateSecret() + "\n");
      const flag = command.opts().dataDir === undefined ? "" : ` --data-dir ${dataDir.dir}`;
      print(
        [
          `Created ${dataDir.dir}`,
          `  database:   ${dataDir.dbPath}`,
          `  secret key: ${dataDir.keyPath}`,
          "",
          "Next steps:",
          `  ssoctl user add alice${flag}               # add a user (asks for a password)`,
          `  ssoctl app add https://app.example.com${flag}   # allow an application to be sent back to`,
          `  ssoctl serve${flag}                        # run the login server`,
        ].join("\n"),
      );
    });
}
