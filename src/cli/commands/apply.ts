/** `ssoctl apply FILE` and `ssoctl export`: users, apps and their rules, and OIDC clients kept in a file. */
import { Command, Option } from "commander";
import { formatDuration, parseDuration } from "../../duration.js";
import { UsageError } from "../../errors.js";
import { MAX_INVITATION_TTL } from "../../factors/invitations.js";
import { STATE_SECTIONS, type StateSectionName } from "../../state/names.js";
import { configOf, databaseOption, dataDirOption, nowSeconds, print, settingOption, storeOfConfig, withStore } from "../context.js";

function ttl(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === null || seconds < 60 || seconds > MAX_INVITATION_TTL) throw new UsageError(`--ttl "${text}" is not a duration from 1m to 30d`);
  return seconds;
}

function sections(text: string, previous: StateSectionName[] | undefined): StateSectionName[] {
  const named = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const name of named) {
    if (!(STATE_SECTIONS as readonly string[]).includes(name)) throw new UsageError(`--section "${name}" is not one of ${STATE_SECTIONS.join(", ")}`);
  }
  return [...(previous ?? []), ...(named as StateSectionName[])];
}

export function stateCommands(): Command[] {
  const apply = new Command("apply")
    .description("make the database hold what FILE says (users, apps and their rules, OIDC clients), in one transaction; never passwords: new users get an invitation link")
    .argument("<file>", "a YAML file with users:, apps:, oidc_clients: (the config file's sections may sit beside them)")
    .option("--dry-run", "print the plan and change nothing")
    .option("--prune", "also remove apps, rules and clients the file does not name (in the sections it has)")
    .option("--prune-users", "also remove users the file does not name")
    .addOption(new Option("--ttl <duration>", "how long a new user's invitation link works").argParser(ttl).default(72 * 3600, "72h"))
    .addOption(settingOption("server.public_url", { describe: "the login server's public URL, to print whole invitation links" }))
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (file: string, options: { dryRun?: boolean; prune?: boolean; pruneUsers?: boolean; ttl: number }, command: Command) => {
      const { applyState, planState, readStateFile } = await import("../../state/apply.js");
      const state = readStateFile(file);
      const config = configOf(command);
      const applyOptions = { prune: options.prune === true, pruneUsers: options.pruneUsers === true, invitationTtl: options.ttl, publicUrl: config.get<string>("server.public_url") };
      await withStore(storeOfConfig(config), async (store) => {
        if (options.dryRun === true) {
          const plan = await planState(store, state, applyOptions);
          for (const change of plan) print(change.text);
          print(plan.length === 0 ? "No changes." : `Dry run: ${plan.length} change(s) planned; nothing written.`);
          return;
        }
        const applied = await applyState(store, state, applyOptions, nowSeconds());
        for (const line of applied.changes) print(line);
        for (const note of applied.notes) print(note);
        if (applied.notes.some((n) => n.includes("/invite/")) && applyOptions.publicUrl === undefined) {
          print("(Put the login server's public URL in front of the links, or set server.public_url / SSOCTL_PUBLIC_URL.)");
        }
        print(applied.changes.length === 0 ? "No changes." : `Applied ${applied.changes.length} change(s) in one transaction (invitation links last ${formatDuration(options.ttl)}).`);
      });
    });

  const exportCommand = new Command("export")
    .description("print users, apps and their rules, and OIDC clients in the format `ssoctl apply` reads (never passwords; client secrets as their hash)")
    .addOption(new Option("--section <names>", `only these sections (repeatable or comma-separated: ${STATE_SECTIONS.join(", ")})`).argParser(sections))
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options: { section?: StateSectionName[] }, command: Command) => {
      const { exportState } = await import("../../state/apply.js");
      await withStore(storeOfConfig(configOf(command)), async (store) => {
        process.stdout.write(await exportState(store, options.section ?? STATE_SECTIONS));
      });
    });

  return [apply, exportCommand];
}
