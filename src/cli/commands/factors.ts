/** `ssoctl user factors NAME [--json] [--remove WHAT]`: a user's credentials, and taking them away. */
import { Command } from "commander";
import { databaseOption, dataDirOption, storeOf, nowSeconds, print, withStore } from "../context.js";
import { isoTime } from "../output.js";
import { printable } from "../../printable.js";

export function factorsCommand(): Command {
  return new Command("factors")
    .description("list a user's credentials (password, authenticator app, recovery codes, passkeys); --remove takes some away")
    .argument("<name>")
    .option("--json", "print a JSON object")
    .option("--remove <what>", "remove totp (the app and its recovery codes), passkeys, all, or passkey:ID; ends the user's sessions")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options: { json?: boolean; remove?: string }, command: Command) => {
      const admin = await import("../../admin.js");
      const { listCredentials, parseRemoval, removeCredentials } = await import("../../factors/credentials.js");
      await withStore(storeOf(command), async (store) => {
        const user = await admin.requireUser(store, username);
        if (options.remove !== undefined) {
          const request = parseRemoval(options.remove);
          const removed = await removeCredentials(store, user.username, request);
          const sessions = removed.length === 0 ? 0 : await store.deleteUserSessions(user.username);
          const now = nowSeconds();
          await store.audit({ at: now, event: "user.factors_removed", username: user.username, detail: { by: "admin", removed: options.remove, sessions } });
          print(`Removed from ${user.username}: ${removed.join(", ") || "nothing"}; ended ${sessions} session(s).`);
        }
        const list = await listCredentials(store, user.username);
        if (options.json === true) {
          print(JSON.stringify({ username: user.username, ...list }, null, 2));
          return;
        }
        const lines = [`${user.username}:`];
        lines.push(`  password            ${list.password ? "set" : "none (invited or reset: the link sets one)"}`);
        lines.push(`  authenticator app   ${list.totp === null ? "none" : `since ${isoTime(list.totp.enrolledAt)}, ${list.totp.recoveryCodesLeft} recovery code(s) left`}`);
        if (list.passkeys.length === 0) lines.push("  passkeys            none");
        for (const passkey of list.passkeys) {
          lines.push(`  passkey             passkey:${passkey.id.slice(0, 16)}  "${printable(passkey.name, 64)}"  added ${isoTime(passkey.createdAt)}, last used ${passkey.lastUsedAt === null ? "never" : isoTime(passkey.lastUsedAt)}`);
        }
        print(lines.join("\n"));
      });
    });
}
