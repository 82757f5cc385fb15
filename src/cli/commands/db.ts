import { Command, Option } from "commander";
import { SsoctlError } from "../../errors.js";
import { dataDirOf, dataDirOption, hidePasswordFromPs, nowSeconds, print } from "../context.js";

export function dbCommand(): Command {
  const db = new Command("db").description("move an installation between database engines");

  db.command("copy")
    .description(
      "copy a SQLite data directory (users with their password hashes, apps and access rules, live sessions, throttling, keys, audit, " +
        "second factors, passkeys and invitations) " +
        "into an empty PostgreSQL database, in one transaction; stop the login servers first",
    )
    .addOption(
      new Option("--to <url>", "the PostgreSQL database, postgres://USER@HOST/DB (default: $SSOCTL_DATABASE_URL; prefer the variable, an argument shows in ps)"),
    )
    .addOption(dataDirOption())
    .action(async (options: { to?: string }, command: Command) => {
      const fromEnv = process.env.SSOCTL_DATABASE_URL?.trim();
      const url = options.to ?? (fromEnv === "" ? undefined : fromEnv);
      if (url === undefined) {
        throw new SsoctlError("db copy needs the PostgreSQL database: set SSOCTL_DATABASE_URL (or pass --to postgres://…)", { exitCode: 2 });
      }
      const source = options.to !== undefined ? "--to" : "SSOCTL_DATABASE_URL";
      if (options.to !== undefined) hidePasswordFromPs(options.to);
      const { copyToPostgres } = await import("../../store/copy.js");
      const result = await copyToPostgres(dataDirOf(command), url, source, nowSeconds());
      const c = result.counts;
      print(
        [
          `Copied ${result.from} into ${result.to}:`,
          `  ${c.users} user(s) with their password hashes, ${c.apps} app(s) with ${c.rules} access rule(s), ${c.sessions} live session(s),`,
          `  ${c.throttle} throttling entr${c.throttle === 1 ? "y" : "ies"}, the signing key and ${c.retiredKeys} retired key(s), ${c.audit} audit row(s).`,
          "",
          "Next: set SSOCTL_DATABASE_URL on every login server and for the CLI, and start the servers.",
          `The data directory is unchanged; keep it as a backup until the servers run on PostgreSQL.`,
        ].join("\n"),
      );
    });

  return db;
}
