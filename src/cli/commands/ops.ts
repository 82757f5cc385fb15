/** Operations (issue 15): `backup` and `doctor`. `user import` lives with the other user commands. */
import { Command } from "commander";
import { SsoctlError } from "../../errors.js";
import { databaseOption, dataDirOption, print, storeOf } from "../context.js";

export function opsCommands(): Command[] {
  return [backupCommand()];
}

function backupCommand(): Command {
  return new Command("backup")
    .description("copy the SQLite database (consistently, while the server runs) and the key files beside it; never overwrites")
    .argument("<file>", "where the database copy goes; the keys go to FILE.<key file name>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (file: string, _options, command: Command) => {
      const location = storeOf(command);
      if (location.engine === "postgres") {
        throw new SsoctlError("with PostgreSQL, back up with pg_dump (see README, \"Backups\"); the signing key is in the database", { exitCode: 2 });
      }
      const { backupSqlite } = await import("../../ops/backup.js");
      const result = await backupSqlite(location.dataDir, file);
      print(
        [
          `Backed up ${location.dataDir.dbPath} to ${result.database} (${result.pages} pages, integrity checked).`,
          ...result.keyFiles.map((key) => `Key file: ${key}`),
          "Keep these files together and private: the key signs every login.",
        ].join("\n"),
      );
    });
}
