/** The `ssoctl` program: commands are added here; errors become a message and an exit code in one place. */
import type { Command, CommanderError } from "commander";
import { readFileSync } from "node:fs";
import { SsoctlError } from "../errors.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** The commands load only when a program is built, so `ssoctl --version` loads none of them (nor jose, undici). */
export async function buildProgram(): Promise<Command> {
  const [{ Command }, { appCommand }, { hashCommand }, { initCommand }, { keyCommand }, { sessionCommand }, { userCommand }, { serverCommands }, { dbCommand }, { ruleCommand }, { clientCommand }] = await Promise.all([
    import("commander"),
    import("./commands/app.js"),
    import("./commands/hash.js"),
    import("./commands/init.js"),
    import("./commands/key.js"),
    import("./commands/session.js"),
    import("./commands/user.js"),
    import("./commands/serve.js"),
    import("./commands/db.js"),
    import("./commands/rule.js"),
    import("./commands/client.js"),
  ]);
  const [{ opsCommands }, { configCommand }, { stateCommands }, { serviceCommand }, { configFileOption }] = await Promise.all([
    import("./commands/ops.js"),
    import("./commands/config.js"),
    import("./commands/apply.js"),
    import("./commands/service.js"),
    import("./context.js"),
  ]);
  const { samlCommand } = await import("./commands/saml.js");
  const { ldapCommand } = await import("./commands/ldap.js");
  const { directoryCommand } = await import("./commands/directory.js");
  const program = new Command("ssoctl")
    .description("a self-hosted single-sign-on login server, managed from the command line")
    .version(version(), "-V, --version")
    .addOption(configFileOption())
    .addCommand(initCommand())
    .addCommand(userCommand())
    .addCommand(appCommand())
    .addCommand(ruleCommand())
    .addCommand(keyCommand())
    .addCommand(sessionCommand())
    .addCommand(dbCommand())
    .addCommand(clientCommand())
    .addCommand(samlCommand())
    .addCommand(ldapCommand())
    .addCommand(directoryCommand());
  for (const command of serverCommands()) program.addCommand(command);
  program.addCommand(hashCommand());
  for (const command of opsCommands()) program.addCommand(command);
  program.addCommand(configCommand());
  for (const command of stateCommands()) program.addCommand(command);
  program.addCommand(serviceCommand());
  configureTree(program);
  return program;
}

/** Every command: errors through our handler, one `ssoctl:` line per error, strict arguments. */
function configureTree(command: Command): void {
  command.exitOverride();
  command.allowExcessArguments(false);
  // `--config` belongs to the program and works after any command; its help lists it there too.
  command.configureHelp({ showGlobalOptions: true });
  command.configureOutput({
    // Commander puts "(Did you mean …?)" on a second line; keep every error on one line.
    outputError: (text, write) =>
      write(`ssoctl: ${text.replace(/^error: /, "").trim().replace(/\s*\n\s*/g, " ")} (see \`${commandPath(command)} --help\`)\n`),
  });
  for (const sub of command.commands) configureTree(sub);
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Runs the CLI and returns the exit code; nothing below calls process.exit. */
export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "-V" || argv[0] === "--version")) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  try {
    const program = await buildProgram();
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    return reportError(error);
  }
}

/** Commander loads lazily, so its errors are recognised by their `commander.*` code. */
function isCommanderError(error: unknown): error is CommanderError {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === "string" && code.startsWith("commander.");
}

export function reportError(error: unknown): number {
  if (isCommanderError(error)) {
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
    // A command group run without a subcommand prints its help with a non-zero code: a usage error.
    if (error.code === "commander.help") return error.exitCode === 0 ? 0 : 2;
    if (error.code === "commander.executeSubCommandAsync") return error.exitCode;
    return 2;
  }
  if (process.env.SSOCTL_DEBUG === "1") process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
  if (error instanceof SsoctlError) {
    process.stderr.write(`ssoctl: ${error.message}\n`);
    return error.exitCode;
  }
  const message = (error as Error)?.message ?? String(error);
  process.stderr.write(`ssoctl: unexpected error: ${message.split("\n")[0]} (set SSOCTL_DEBUG=1 for details)\n`);
  return 1;
}
