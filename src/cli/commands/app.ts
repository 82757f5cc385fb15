import { Command, Option } from "commander";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { databaseOption, dataDirOption, storeOf, nowSeconds, print, withStore } from "../context.js";

/** Repeatable options gather their values (no default: `--help` shows none). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The access options `app add`, `app set` and `rule add` share. */
export const accessOptions = {
  policy: (unset: string): Option =>
    new Option("--policy <policy>", `one_factor, two_factor, bypass (no login needed) or deny; ${unset}`).choices(["one_factor", "two_factor", "bypass", "deny"]),
  allowGroup: (): Option => new Option("--allow-group <group>", "admit members of this group (repeatable)").argParser(collect),
  allowUser: (): Option => new Option("--allow-user <username>", "admit this user (repeatable)").argParser(collect),
};

export function appCommand(): Command {
  const app = new Command("app").description("manage the applications the login server may send users back to");

  app
    .command("add")
    .description("allow an application origin (scheme, host, port) as a redirect target; a path is dropped")
    .argument("<url>", "for example https://app.example.com")
    .option("--name <text>", "a name shown on the login page (default: the host)")
    .addOption(accessOptions.policy("default one_factor"))
    .addOption(accessOptions.allowGroup())
    .addOption(accessOptions.allowUser())
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (url: string, options, command: Command) => {
      const admin = await import("../../admin.js");
      const { parseAccessOptions } = await import("../../access/admin.js");
      const access = parseAccessOptions(options);
      await withStore(storeOf(command), async (store) => {
        const added = await admin.addApp(store, { url, name: options.name, access }, nowSeconds());
        // addApp has parsed the URL; only mention a path, query or fragment that was really dropped.
        const given = new URL(url);
        const dropped = given.pathname !== "/" || given.search !== "" || given.hash !== "";
        const note = dropped ? ` (registered by origin; the path of ${url} is not part of it)` : "";
        print(`Added app ${added.name}: ${added.origin}${note}`);
      });
    });

  app
    .command("list")
    .description("list registered applications")
    .option("--json", "print a JSON array")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options, command: Command) => {
      await withStore(storeOf(command), async (store) => {
        const apps = await store.listApps();
        const { audienceText } = await import("../../access/admin.js");
        if (options.json) {
          writeJsonArray(
            apps.map((a) => ({
              name: a.name,
              origin: a.origin,
              created: isoTime(a.createdAt),
              policy: a.policy,
              allowGroups: a.allowGroups,
              allowUsers: a.allowUsers,
            })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(apps, [
            { header: "NAME", value: (a) => a.name },
            { header: "ORIGIN", value: (a) => a.origin },
            { header: "POLICY", value: (a) => a.policy },
            { header: "ALLOWED", value: (a) => audienceText({ groups: a.allowGroups, users: a.allowUsers }) },
            { header: "CREATED", value: (a) => isoTime(a.createdAt) ?? "" },
          ]),
        );
      });
    });

  // Access rules
  app
    .command("set")
    .description("rename an application or change who may use it, by URL or name")
    .argument("<url-or-name>")
    .option("--name <text>", "a new name shown on the login page")
    .addOption(accessOptions.policy("unchanged if not given"))
    .addOption(accessOptions.allowGroup())
    .addOption(accessOptions.allowUser())
    .option("--allow-any", "admit everyone signed in (clears --allow-group and --allow-user)")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (target: string, options, command: Command) => {
      const { parseAccessOptions, setApp, audienceText } = await import("../../access/admin.js");
      const changes = { name: options.name as string | undefined, ...parseAccessOptions(options) };
      await withStore(storeOf(command), async (store) => {
        const app = await setApp(store, target, changes, nowSeconds());
        print(`App ${app.name} (${app.origin}): policy ${app.policy}, allowed ${audienceText({ groups: app.allowGroups, users: app.allowUsers })}`);
      });
    });

  app
    .command("remove")
    .description("stop allowing an application, by URL or name")
    .argument("<url-or-name>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (target: string, _options, command: Command) => {
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        const removed = await admin.removeApp(store, target, nowSeconds());
        print(`Removed app ${removed.name}: ${removed.origin}`);
      });
    });

  return app;
}
