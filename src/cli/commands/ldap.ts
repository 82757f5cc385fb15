import { Command } from "commander";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { databaseOption, dataDirOption, nowSeconds, print, storeOf, withStore } from "../context.js";

/** `ssoctl ldap account …`: the service accounts apps bind with to search the LDAP interface (DESIGN §19). */
export function ldapCommand(): Command {
  const ldap = new Command("ldap").description("the LDAP interface for apps that speak only LDAP");
  const account = new Command("account").description("service accounts: one per app that searches the directory");

  account
    .command("add")
    .description("add a service account for an app; prints its bind DN and password (shown once)")
    .argument("<name>", "a name for the account, e.g. jellyfin")
    .requiredOption("--app <origin-or-name>", "the registered app whose access rules apply to users signing in through it")
    .option("--base-dn <dn>", "the interface's base DN (serve --ldap-base-dn), to print the whole bind DN")
    .option("--json", "print a JSON object: bind_dn, password")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (name: string, options, command: Command) => {
      const { addLdapAccount } = await import("../../protocols/ldap/credentials.js");
      await withStore(storeOf(command), async (store) => {
        const { account: added, secret } = await addLdapAccount(store, name, options.app, nowSeconds());
        const dn = `cn=${added.name},ou=services,${options.baseDn ?? "<base DN>"}`;
        if (options.json) {
          print(JSON.stringify({ bind_dn: dn, password: secret }));
          return;
        }
        print(
          [
            `Added LDAP account ${added.name} for ${added.appName} (${added.appOrigin})`,
            `  bind DN:  ${dn}`,
            `  password: ${secret}`,
            "",
            "The password is shown only now; ssoctl keeps only its hash. Lost it? Remove the account and add it again.",
          ].join("\n"),
        );
      });
    });

  account
    .command("list")
    .description("list service accounts")
    .option("--json", "print a JSON array")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options, command: Command) => {
      await withStore(storeOf(command), async (store) => {
        const accounts = await store.ldap.listLdapAccounts();
        if (options.json) {
          writeJsonArray(
            accounts.map((a) => ({ name: a.name, app: a.appOrigin, created: isoTime(a.createdAt), last_used: isoTime(a.lastUsedAt) })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(accounts, [
            { header: "NAME", value: (a) => a.name },
            { header: "APP", value: (a) => a.appOrigin },
            { header: "CREATED", value: (a) => isoTime(a.createdAt) ?? "" },
            { header: "LAST USED", value: (a) => isoTime(a.lastUsedAt) ?? "never" },
          ]),
        );
      });
    });

  account
    .command("remove")
    .description("remove a service account; binds with it stop at once")
    .argument("<name>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (name: string, _options, command: Command) => {
      const { removeLdapAccount } = await import("../../protocols/ldap/credentials.js");
      await withStore(storeOf(command), async (store) => {
        const removed = await removeLdapAccount(store, name, nowSeconds());
        print(`Removed LDAP account ${removed.name}`);
      });
    });

  ldap.addCommand(account);
  return ldap;
}

/** `ssoctl user app-password …`: passwords a user types into an app that signs in over LDAP. */
export function appPasswordCommand(): Command {
  const appPassword = new Command("app-password").description("a user's app passwords, for apps that sign in over LDAP (which carries no second factor)");

  appPassword
    .command("add")
    .description("make an app password for a user; printed once")
    .argument("<name>", "username")
    .requiredOption("--label <text>", "what it is for, e.g. jellyfin")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options, command: Command) => {
      const { addAppPassword } = await import("../../protocols/ldap/credentials.js");
      await withStore(storeOf(command), async (store) => {
        const { entry, secret } = await addAppPassword(store, username, options.label, nowSeconds());
        print(
          [
            `Added app password "${entry.label}" for ${entry.username}: ${secret}`,
            "It is shown only now. Type it into the app instead of the password; remove it when the app is gone.",
          ].join("\n"),
        );
      });
    });

  appPassword
    .command("list")
    .description("list a user's app passwords (their labels, never the passwords)")
    .argument("<name>", "username")
    .option("--json", "print a JSON array")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options, command: Command) => {
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        await admin.requireUser(store, username);
        const entries = await store.ldap.listAppPasswords(username);
        if (options.json) {
          writeJsonArray(
            entries.map((e) => ({ label: e.label, created: isoTime(e.createdAt), last_used: isoTime(e.lastUsedAt) })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(entries, [
            { header: "LABEL", value: (e) => e.label },
            { header: "CREATED", value: (e) => isoTime(e.createdAt) ?? "" },
            { header: "LAST USED", value: (e) => isoTime(e.lastUsedAt) ?? "never" },
          ]),
        );
      });
    });

  appPassword
    .command("remove")
    .description("revoke one of a user's app passwords")
    .argument("<name>", "username")
    .requiredOption("--label <text>", "the label it was added with")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options, command: Command) => {
      const { removeAppPassword } = await import("../../protocols/ldap/credentials.js");
      await withStore(storeOf(command), async (store) => {
        const removed = await removeAppPassword(store, username, options.label, nowSeconds());
        print(`Removed app password "${removed.label}" of ${removed.username}`);
      });
    });

  return appPassword;
}
