/** Operations: `backup` and `doctor`. `user import` lives with the other user commands. */
import { Command } from "commander";
import { SsoctlError } from "../../errors.js";
import { configOf, databaseOption, dataDirOption, nowSeconds, print, storeOf, storeOfConfig } from "../context.js";
import { formatTable } from "../output.js";
import { addServeOptions, serveInputOf } from "./serve.js";

export function opsCommands(): Command[] {
  return [backupCommand(), doctorCommand()];
}

function collectApp(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function doctorCommand(): Command {
  const command = new Command("doctor")
    .description("check the installation with the options `serve` would get (changes nothing); exit 1 on a failure")
    .option("--app <url>", "fetch this app without a login and check it sends the browser to this login server (repeatable)", collectApp)
    .option("--proxy-config <file>", "an nginx configuration to check for X-Original-URL built from the client's Host (repeatable; default: /etc/nginx when readable)", collectApp)
    .option("--json", "print the checks as a JSON array");
  return addServeOptions(command).action(async (options, cmd: Command) => {
    const { resolveServerConfig } = await import("../../server/config.js");
    const doctor = await import("../../ops/doctor.js");
    const effective = configOf(cmd);
    let config;
    try {
      config = resolveServerConfig(serveInputOf(effective, options));
    } catch (error) {
      throw new SsoctlError((error as Error).message, { exitCode: 2 });
    }
    const location = storeOfConfig(effective);
    const checks: import("../../ops/doctor.js").Check[] = [...doctor.checkConfigFile(effective.file, effective.warnings)];
    let facts: import("../../ops/doctor.js").DatabaseFacts | null = null;
    if (location.engine === "sqlite") {
      checks.push(...doctor.checkDataDir(location.dataDir));
      try {
        facts = doctor.sqliteFacts(location.dataDir);
      } catch (error) {
        checks.push({ check: "database", status: "fail", detail: `${location.dataDir.dbPath}: ${(error as Error).message}`, fix: "ssoctl init, or restore the database from a backup" });
      }
    } else {
      try {
        facts = await doctor.postgresFacts(location.url, location.source);
      } catch (error) {
        checks.push({ check: "database", status: "fail", detail: (error as Error).message, fix: "fix SSOCTL_DATABASE_URL / --database, or start PostgreSQL" });
      }
    }
    if (facts !== null) checks.push(...doctor.checkDatabase(facts));
    const apps = facts?.apps ?? [];
    checks.push(doctor.checkPublicUrl(config));
    checks.push(...doctor.checkCookieDomain(config, apps));
    checks.push(doctor.checkTrustedProxies(config));
    if (facts !== null) checks.push(doctor.checkClock(nowSeconds(), facts));
    if (facts !== null) checks.push(...doctor.checkSamlSps(facts.samlSps, nowSeconds()));
    checks.push(...(await doctor.checkAppHosts(apps)));
    checks.push(await doctor.checkRunningServer(config));
    for (const app of (options.app as string[] | undefined) ?? []) checks.push(await doctor.checkAppProtected(app, config, apps));
    const proxies = await import("../../ops/proxy-config.js");
    const named = options.proxyConfig as string[] | undefined;
    checks.push(...proxies.checkProxyConfigs(proxies.readProxyConfigs(named ?? proxies.defaultProxyConfigFiles()), { reportPass: named !== undefined }));

    if (options.json) {
      print(JSON.stringify(checks, null, 2));
    } else {
      const rows = checks.flatMap((c) => [
        { status: c.status.toUpperCase(), check: c.check, detail: c.detail },
        ...(c.fix !== undefined && c.status !== "pass" ? [{ status: "", check: "", detail: `fix: ${c.fix}` }] : []),
      ]);
      process.stdout.write(
        formatTable(rows, [
          { header: "STATUS", value: (r) => r.status },
          { header: "CHECK", value: (r) => r.check },
          { header: "DETAIL", value: (r) => r.detail },
        ]),
      );
      const failed = checks.filter((c) => c.status === "fail").length;
      const warned = checks.filter((c) => c.status === "warn").length;
      print(`${checks.length - failed - warned} passed, ${warned} warning(s), ${failed} failure(s).`);
    }
    // Exit 1 through the CLI's one error path, after the table.
    if (doctor.exitCodeOf(checks) !== 0) throw new SsoctlError(`doctor found ${checks.filter((c) => c.status === "fail").length} failure(s); each has its fix above`);
  });
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
