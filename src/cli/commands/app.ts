import { Command } from "commander";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { databaseOption, dataDirOption, storeOf, nowSeconds, print, withStore } from "../context.js";

export function appCommand(): Command {
  const app = new Command("app").description("manage the applications the login server may send users back to");

  app
    .command("add")
    .description("allow an application origin (scheme, host, port) as a redirect target; a path is dropped")
    .argument("<url>", "for example https://app.example.com")
    .option("--name <text>", "a name shown on the login page (default: the host)")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (url: string, options, command: Command) => {
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        const added = await admin.addApp(store, { url, name: options.name }, nowSeconds());
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
        if (options.json) {
          writeJsonArray(
            apps.map((a) => ({ name: a.name, origin: a.origin, created: isoTime(a.createdAt) })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(apps, [
            { header: "NAME", value: (a) => a.name },
            { header: "ORIGIN", value: (a) => a.origin },
            { header: "CREATED", value: (a) => isoTime(a.createdAt) ?? "" },
          ]),
        );
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
