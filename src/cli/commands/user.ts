import { Command, Option } from "commander";
import { SsoctlError } from "../../errors.js";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { readNewPassword, refusePasswordOption } from "../password-input.js";
import { databaseOption, dataDirOption, storeOf, nowSeconds, print, withStore } from "../context.js";
import type { User } from "../../store/store.js";
import { totpCommand } from "./totp.js";
import { factorsCommand } from "./factors.js";
import { printKept } from "../kept-credentials.js";
import { inviteCommands } from "./invite.js";
import { appPasswordCommand } from "./ldap.js";

export function userCommand(): Command {
  const user = new Command("user").description("manage users");

  user
    .command("add")
    .description("add a user; the password comes from --password-stdin or a prompt")
    .argument("<name>", "username: 1-64 of A-Z a-z 0-9 . _ @ -")
    .option("--name <text>", "full name")
    .option("--email <address>", "email address")
    .option("--groups <a,b>", "comma-separated groups")
    .option("--password-stdin", "read the password from the first line of standard input")
    .addOption(refusePasswordOption())
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options, command: Command) => {
      const admin = await import("../../admin.js");
      admin.checkNewUsername(username);
      const profile = admin.parseProfile(options);
      await withStore(storeOf(command), async (store) => {
        await admin.assertUserAbsent(store, username);
        const password = await readNewPassword({ passwordStdin: options.passwordStdin });
        const { hashPassword } = await import("../../passwords.js");
        const added = await admin.addUser(store, { username, passwordHash: await hashPassword(password), profile }, nowSeconds());
        print(`Added user ${added.username}.`);
      });
    });

  user
    .command("remove")
    .description("delete a user and end their sessions")
    .argument("<name>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, _options, command: Command) => {
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        const { sessions } = await admin.removeUser(store, username, nowSeconds());
        print(`Removed user ${username}; ended ${sessions} session(s).`);
      });
    });

  user
    .command("list")
    .description("list users")
    .option("--json", "print a JSON array")
    .addOption(new Option("--source <source>", "only local users, or only directory users seen so far").choices(["local", "directory"]))
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options, command: Command) => {
      await withStore(storeOf(command), async (store) => {
        // SQLite steps through the rows as they print; PostgreSQL hands them over as a list.
        const iterated = store.iterateUsers();
        let users: Iterable<User> = Symbol.asyncIterator in iterated ? await store.listUsers() : iterated;
        if (options.source !== undefined) {
          const fromDirectory = new Set((await store.ldap.listDirectoryUsers()).map((d) => d.username.toLowerCase()));
          const wanted = options.source === "directory";
          users = filterIterable(users, (u) => fromDirectory.has(u.username.toLowerCase()) === wanted);
        }
        if (options.json) {
          writeJsonArray(mapIterable(users, userJson), (text) => process.stdout.write(text));
          return;
        }
        process.stdout.write(
          formatTable(users, [
            { header: "USERNAME", value: (u) => u.username },
            { header: "NAME", value: (u) => u.name },
            { header: "EMAIL", value: (u) => u.email },
            { header: "GROUPS", value: (u) => u.groups.join(",") },
            { header: "DISABLED", value: (u) => (u.disabled ? "yes" : "no") },
            { header: "CREATED", value: (u) => isoTime(u.createdAt) ?? "" },
            { header: "LAST LOGIN", value: (u) => isoTime(u.lastLoginAt) ?? "never" },
          ]),
        );
      });
    });

  user
    .command("passwd")
    .description("set a new password; ends the user's sessions and OpenID Connect grants")
    .argument("<name>")
    .option("--password-stdin", "read the password from the first line of standard input")
    .addOption(refusePasswordOption())
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options, command: Command) => {
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        const existing = await admin.requireUser(store, username);
        const password = await readNewPassword({ passwordStdin: options.passwordStdin });
        const { hashPassword } = await import("../../passwords.js");
        const { sessions } = await admin.changePassword(store, existing.username, await hashPassword(password), nowSeconds());
        print(`Changed the password of ${existing.username}; ended ${sessions} session(s).`);
        await printKept(store, existing.username, { password: false });
      });
    });

  for (const [verb, disabled] of [["disable", true], ["enable", false]] as const) {
    user
      .command(verb)
      .description(disabled ? "stop a user from signing in; ends their sessions and OpenID Connect grants" : "allow a disabled user to sign in again")
      .argument("<name>")
      .addOption(dataDirOption())
    .addOption(databaseOption())
      .action(async (username: string, _options, command: Command) => {
        const admin = await import("../../admin.js");
        await withStore(storeOf(command), async (store) => {
          const { sessions } = await admin.setUserDisabled(store, username, { disabled }, nowSeconds());
          print(disabled ? `Disabled ${username}; ended ${sessions} session(s).` : `Enabled ${username}.`);
        });
      });
  }

  // Access rules
  user
    .command("set")
    .description("change a user's name, email or groups (only the options given)")
    .argument("<name>")
    .option("--name <text>", "full name")
    .option("--email <address>", "email address (\"\" clears it)")
    .option("--groups <a,b>", "comma-separated groups, replacing the current ones (\"\" clears them)")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options: { name?: string; email?: string; groups?: string }, command: Command) => {
      const admin = await import("../../admin.js");
      const { setUser } = await import("../../access/admin.js");
      const profile = admin.parseProfile(options);
      const changes = {
        name: options.name === undefined ? undefined : profile.name,
        email: options.email === undefined ? undefined : profile.email,
        groups: options.groups === undefined ? undefined : profile.groups,
      };
      await withStore(storeOf(command), async (store) => {
        await setUser(store, username, changes, nowSeconds());
        print(`Changed ${username}.`);
      });
    });

  user
    .command("unlock")
    .description("clear sign-in throttling for a user")
    .argument("<name>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, _options, command: Command) => {
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        const cleared = await admin.unlockUser(store, username, nowSeconds());
        print(cleared ? `Unlocked ${username}.` : `${username} was not locked.`);
      });
    });

  // Second factor and invitations
  user.addCommand(totpCommand());
  user.addCommand(factorsCommand());
  for (const command of inviteCommands()) user.addCommand(command);
  user.addCommand(appPasswordCommand());
  // Operations: user import
  user
    .command("import")
    .description("add users from an htpasswd file or Authelia's users_database.yml, keeping their password hashes (argon2id from the first sign-in on)")
    .argument("<file>", "the file to import")
    .addOption(new Option("--format <format>", "the file's format").choices(["htpasswd", "authelia"]).makeOptionMandatory())
    .option("--dry-run", "check the file and say what would happen; write nothing")
    .option("--replace", "overwrite existing users of the same name (profile and password; ends their sessions)")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (file: string, options: { format: "htpasswd" | "authelia"; dryRun?: boolean; replace?: boolean }, command: Command) => {
      const imports = await import("../../ops/import-users.js");
      // The whole file is read and checked before the database is opened: a bad file changes nothing.
      const parsed = imports.parseImport(imports.readImportFile(file), options.format);
      await withStore(storeOf(command), async (store) => {
        const report = await imports.importUsers(store, parsed, { replace: options.replace === true, dryRun: options.dryRun === true, source: options.format }, nowSeconds());
        print(imports.formatImportReport(report, file, options.format));
        if (parsed.users.length === 0 && parsed.refused.length > 0) {
          throw new SsoctlError(`nothing imported: every entry of ${file} was refused (reasons above)`);
        }
      });
    });

  return user;
}

function userJson(u: User): Record<string, unknown> {
  return {
    username: u.username,
    name: u.name,
    email: u.email,
    groups: u.groups,
    disabled: u.disabled,
    created: isoTime(u.createdAt),
    lastLogin: isoTime(u.lastLoginAt),
  };
}

function* mapIterable<T, U>(items: Iterable<T>, map: (item: T) => U): Iterable<U> {
  for (const item of items) yield map(item);
}

function* filterIterable<T>(items: Iterable<T>, keep: (item: T) => boolean): Iterable<T> {
  for (const item of items) if (keep(item)) yield item;
}
