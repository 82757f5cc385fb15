/** `ssoctl config show` and `ssoctl config check [FILE]`: the effective settings, and a file checked without starting anything. */
import { Command } from "commander";
import * as path from "node:path";
import { configFileOf, loadConfig, type Config, type Entry, type Origin } from "../../config/load.js";
import { SsoctlError } from "../../errors.js";
import { configOf, print } from "../context.js";
import { formatTable } from "../output.js";
import { addServeOptions, serveInputOf } from "./serve.js";

export function configCommand(): Command {
  const config = new Command("config").description("show the effective configuration, or check a config file");

  config.addCommand(
    addServeOptions(
      new Command("show")
        .description("print every setting's effective value and where it came from (flag, env, file, default); secrets masked")
        .option("--json", "print a JSON array"),
    ).action((options: { json?: boolean }, command: Command) => {
      const effective = configOf(command);
      const rows = effective.list().map((entry) => ({ key: entry.key, value: shownValue(entry), origin: originText(entry.origin), env: entry.env }));
      if (options.json === true) print(JSON.stringify(rows, null, 2));
      else {
        if (effective.file === null) print("No config file (give --config FILE or set SSOCTL_CONFIG).");
        process.stdout.write(
          formatTable(rows, [
            { header: "KEY", value: (r) => r.key },
            { header: "VALUE", value: (r) => r.value },
            { header: "FROM", value: (r) => r.origin },
          ]),
        );
      }
      warn(effective);
    }),
  );

  config.addCommand(
    new Command("check")
      .description("validate a config file (default: the one commands would read) without starting anything; exit 1 on a problem")
      .argument("[file]", "the file to check")
      .action(async (file: string | undefined, _options, command: Command) => {
        const configFlag = file ?? command.optsWithGlobals<{ config?: string }>().config;
        const target = configFileOf({ configFlag, env: process.env });
        if (target === null) throw new SsoctlError("no config file to check: give FILE, --config FILE or set SSOCTL_CONFIG", { exitCode: 2 });
        const checked = await checkConfigFile(target);
        warn(checked);
        print(`${target}: valid${checked.warnings.length > 0 ? ` (${checked.warnings.length} warning(s))` : ""}`);
      }),
  );
  return config;
}

/**
 * Loads a file as `serve` would (its values alone, without the environment, which `config show`
 * reports) and checks the server settings across keys; any problem is the error.
 */
export async function checkConfigFile(file: string): Promise<Config> {
  const { FileProblemError } = await import("../../config/yaml-file.js");
  let config: Config;
  try {
    config = loadConfig({ configFlag: file, env: {} });
  } catch (error) {
    // Every problem on its own line, then the error's one-line summary.
    if (error instanceof FileProblemError) for (const problem of error.problems.slice(1)) process.stderr.write(`ssoctl: ${error.file}:${problem.line}: ${problem.message}\n`);
    throw error;
  }
  const { resolveServerConfig } = await import("../../server/config.js");
  try {
    resolveServerConfig(serveInputOf(config));
  } catch (error) {
    throw new SsoctlError(`${path.resolve(file)}: ${(error as Error).message.replace(/--([a-z-]+)/g, (_m, flag: string) => `server.${flag.replace(/-/g, "_")}`)}`);
  }
  // Desired-state sections beside the settings are checked as `apply` would, without a database.
  const { STATE_SECTIONS } = await import("../../state/names.js");
  const { readYamlFile } = await import("../../config/yaml-file.js");
  if (STATE_SECTIONS.some((name) => name in readYamlFile(file).data)) {
    const { readStateFile } = await import("../../state/apply.js");
    readStateFile(file);
  }
  return config;
}

function warn(config: Config): void {
  for (const warning of config.warnings) process.stderr.write(`ssoctl: warning: ${warning}\n`);
}

function shownValue(entry: Entry): string {
  if (entry.value === undefined) return "(not set)";
  return entry.setting.format(entry.value);
}

function originText(origin: Origin): string {
  switch (origin.kind) {
    case "flag":
      return `flag ${origin.name}`;
    case "env":
      return `env ${origin.name}`;
    case "file":
      return `file ${origin.file}:${origin.line}`;
    case "default":
      return "default";
  }
}
