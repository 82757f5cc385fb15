import { Command } from "commander";
import * as fs from "node:fs";
import { SsoctlError, UsageError } from "../../errors.js";
import { print } from "../context.js";

/** The `directory` section of a config file, checked (until `serve` reads the whole file, this is where it lives). */
async function directoryOf(file: string): Promise<import("../../server/config.js").DirectoryConfig> {
  const { parse } = await import("yaml");
  const { directoryConfigOf } = await import("../../directory/config.js");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`--config ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
  let document: unknown;
  try {
    document = parse(text, { maxAliasCount: 0 });
  } catch (error) {
    throw new UsageError(`--config ${file} is not YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  const section = (document as { directory?: unknown } | null)?.directory;
  if (section === undefined) throw new UsageError(`--config ${file} has no directory section`);
  try {
    return directoryConfigOf(section);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
}

/** `ssoctl directory test NAME`: what the server would see for a directory user, without a sign-in. */
export function directoryCommand(): Command {
  const directory = new Command("directory").description("an LDAP directory (OpenLDAP, Active Directory) as the source of users");
  directory
    .command("test")
    .description("look a user up as the login server would (DN, name, email, groups), without a password")
    .argument("<name>", "the username as the user types it")
    .option("--json", "print a JSON object")
    .action(async (username: string, options, command: Command) => {
      // The program's own --config (or SSOCTL_CONFIG, or the default file) names the file.
      const { configFileOf } = await import("../../config/load.js");
      const file = configFileOf({ configFlag: command.optsWithGlobals<{ config?: string }>().config, env: process.env });
      if (file === null) throw new UsageError("directory test needs the config file with the directory section (--config FILE or SSOCTL_CONFIG)");
      const config = await directoryOf(file);
      const { DirectorySource } = await import("../../directory/source.js");
      const source = new DirectorySource(config.options);
      try {
        const found = await source.lookup(username);
        if (found.kind === "unreachable") throw new SsoctlError(`the directory is unreachable (${config.options.url}): ${found.error}`);
        if (found.kind === "not_found") throw new SsoctlError(`the directory has no single entry for ${JSON.stringify(username)} under ${config.options.userBase} with ${config.options.userFilter ?? "(uid={username})"}`);
        const user = found.user;
        if (options.json) {
          print(JSON.stringify({ username: user.username, dn: user.dn, name: user.name, email: user.email, groups: user.groups, disabled: user.disabled }));
          return;
        }
        print(
          [
            `dn:       ${user.dn}`,
            `username: ${user.username}`,
            `name:     ${user.name}`,
            `email:    ${user.email}`,
            `groups:   ${user.groups.join(", ") || "(none)"}`,
            `disabled: ${user.disabled ? "yes (cannot sign in)" : "no"}`,
          ].join("\n"),
        );
      } finally {
        await source.close();
      }
    });
  return directory;
}
