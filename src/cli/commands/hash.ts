import { Command } from "commander";
import { readNewPassword, refusePasswordOption } from "../password-input.js";
import { print } from "../context.js";

export function hashCommand(): Command {
  return new Command("hash")
    .description("read a password and print its argon2id hash")
    .option("--password-stdin", "read the password from the first line of standard input")
    .addOption(refusePasswordOption())
    .action(async (options) => {
      const password = await readNewPassword({ passwordStdin: options.passwordStdin });
      const { hashPassword } = await import("../../passwords.js");
      print(await hashPassword(password));
    });
}
