import { Command } from "commander";
import { UsageError } from "../../errors.js";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { printKept } from "../kept-credentials.js";
import { databaseOption, dataDirOption, storeOf, nowSeconds, print, withStore } from "../context.js";

export function sessionCommand(): Command {
  const session = new Command("session").description("list and end login sessions");

  session
    .command("list")
    .description("list live sessions")
    .option("--user <name>", "only this user's sessions")
    .option("--json", "print a JSON array")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options, command: Command) => {
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        const sessions = await admin.listSessions(store, options.user, nowSeconds());
        if (options.json) {
          writeJsonArray(
            sessions.map((s) => ({
              id: s.id,
              username: s.username,
              anonymous: s.anonymous,
              created: isoTime(s.createdAt),
              expires: isoTime(s.expiresAt),
              clientAddr: s.clientAddr,
              userAgent: s.userAgent,
            })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(sessions, [
            { header: "ID", value: (s) => s.id },
            { header: "USER", value: (s) => s.username + (s.anonymous ? " (anonymous)" : "") },
            { header: "CREATED", value: (s) => isoTime(s.createdAt) ?? "" },
            { header: "EXPIRES", value: (s) => isoTime(s.expiresAt) ?? "" },
            { header: "CLIENT", value: (s) => s.clientAddr },
          ]),
        );
      });
    });

  session
    .command("revoke")
    .description("end sessions: one by ID, all of a user's (--user), or every one (--all); the users' OpenID Connect grants end too")
    .argument("[id]", "session ID from `ssoctl session list`")
    .option("--user <name>", "end all of this user's sessions")
    .option("--all", "end every session")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (id: string | undefined, options, command: Command) => {
      const chosen = [id !== undefined, options.user !== undefined, options.all === true].filter(Boolean).length;
      if (chosen !== 1) throw new UsageError("session revoke takes exactly one of: an ID, --user NAME, --all");
      const admin = await import("../../admin.js");
      await withStore(storeOf(command), async (store) => {
        const count = await admin.revokeSessions(store, { id, username: options.user, all: options.all }, nowSeconds());
        print(`Ended ${count} session(s).`);
        // Ending sessions changes no credential: say what still signs the user in.
        if (options.user !== undefined && (await store.getUser(options.user)) !== null) await printKept(store, options.user, { password: true });
      });
    });

  return session;
}
