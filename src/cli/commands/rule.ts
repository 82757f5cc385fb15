/** `ssoctl rule add|list|remove`: path rules refining an app's policy and audience. */
import { Command, Option } from "commander";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { databaseOption, dataDirOption, storeOf, nowSeconds, print, withStore } from "../context.js";
import { accessOptions, collect } from "./app.js";
import type { StoredRule } from "../../store/store.js";

export function ruleCommand(): Command {
  const rule = new Command("rule").description("path rules: who may use which part of an app (longest matching path wins)");

  rule
    .command("add")
    .description("add a rule for requests under a path of an app")
    .argument("<app>", "the app's URL or name")
    .addOption(new Option("--path <prefix>", "a path prefix such as /admin (covers /admin and /admin/…, not /administrator)").makeOptionMandatory())
    .addOption(new Option("--method <method>", "only requests with this method (repeatable; default: every method)").argParser(collect))
    .addOption(accessOptions.policy("default: the app's"))
    .addOption(accessOptions.allowGroup())
    .addOption(accessOptions.allowUser())
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (app: string, options, command: Command) => {
      const access = await import("../../access/admin.js");
      const parsed = access.parseRule(options);
      await withStore(storeOf(command), async (store) => {
        const added = await access.addRule(store, app, parsed, nowSeconds());
        print(`Added rule ${added.id} for ${added.app}: ${describe(added, access.audienceText)}`);
      });
    });

  rule
    .command("list")
    .description("list rules, of every app or of one")
    .argument("[app]", "the app's URL or name")
    .option("--json", "print a JSON array")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (app: string | undefined, options, command: Command) => {
      const access = await import("../../access/admin.js");
      await withStore(storeOf(command), async (store) => {
        const rules = await access.listRules(store, app);
        if (options.json) {
          writeJsonArray(
            rules.map((r) => ({
              id: r.id,
              app: r.app,
              origin: r.origin,
              path: r.path,
              methods: r.methods,
              policy: r.policy,
              groups: r.groups,
              users: r.users,
              created: isoTime(r.createdAt),
            })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(rules, [
            { header: "ID", value: (r) => String(r.id) },
            { header: "APP", value: (r) => r.app },
            { header: "PATH", value: (r) => r.path },
            { header: "METHODS", value: (r) => (r.methods.length === 0 ? "any" : r.methods.join(",")) },
            { header: "POLICY", value: (r) => r.policy ?? "(app's)" },
            { header: "ALLOWED", value: (r) => (r.groups.length + r.users.length === 0 ? "(app's)" : access.audienceText(r)) },
          ]),
        );
      });
    });

  rule
    .command("remove")
    .description("remove a rule by its id (see `ssoctl rule list`)")
    .argument("<id>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (id: string, _options, command: Command) => {
      const access = await import("../../access/admin.js");
      const ruleId = access.parseRuleId(id);
      await withStore(storeOf(command), async (store) => {
        const removed = await access.removeRule(store, ruleId, nowSeconds());
        print(`Removed rule ${removed.id} of ${removed.app} (${removed.path}).`);
      });
    });

  return rule;
}

function describe(rule: StoredRule, audienceText: (a: { groups: readonly string[]; users: readonly string[] }) => string): string {
  const methods = rule.methods.length === 0 ? "any method" : rule.methods.join(",");
  const who = rule.groups.length + rule.users.length === 0 ? "the app's audience" : audienceText(rule);
  return `${rule.path} (${methods}), policy ${rule.policy ?? "the app's"}, allowed ${who}`;
}
