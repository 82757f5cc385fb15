/** `ssoctl user invite NAME` and `ssoctl user reset NAME`: a one-time link to set a password. */
import { Command, Option } from "commander";
import { UsageError } from "../../errors.js";
import { parseDuration, formatDuration } from "../../duration.js";
import { MAX_INVITATION_TTL } from "../../factors/invitations.js";
import { printKept } from "../kept-credentials.js";
import { configOf, databaseOption, dataDirOption, settingOption, storeOf, nowSeconds, print, withStore } from "../context.js";

/** `--ttl`, shown in help as 72h rather than its value in seconds. */
function ttlFlag(): Option {
  return new Option("--ttl <duration>", "how long the link works").argParser(ttlOption).default(72 * 3600, "72h");
}

function ttlOption(text: string): number {
  const seconds = parseDuration(text);
  if (seconds === null) throw new UsageError(`--ttl "${text}" is not a duration like 90m, 72h or 7d`);
  // Checked before anything is written: a refused link must not leave a user behind.
  if (seconds < 60 || seconds > MAX_INVITATION_TTL) throw new UsageError("--ttl must be between 1m and 30d");
  return seconds;
}

function linkOf(path: string, publicUrl: string | undefined): string {
  if (publicUrl === undefined || publicUrl === "") return path;
  let base: URL;
  try {
    base = new URL(publicUrl);
  } catch {
    throw new UsageError(`--public-url "${publicUrl}" is not a URL`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError("--public-url must start with http:// or https://");
  return base.href.replace(/\/+$/, "") + path;
}

function printLink(username: string, link: string, ttl: number, relative: boolean): void {
  print(`Send ${username} this link (it works once, for ${formatDuration(ttl)}):\n${link}`);
  if (relative) print("(Put the login server's public URL in front, or pass --public-url / set SSOCTL_PUBLIC_URL.)");
}

export function inviteCommands(): Command[] {
  const invite = new Command("invite")
    .description("add a user without a password and print a one-time link where they set it")
    .argument("<name>", "username: 1-64 of A-Z a-z 0-9 . _ @ -")
    .option("--name <text>", "full name")
    .option("--email <address>", "email address")
    .option("--groups <a,b>", "comma-separated groups")
    .addOption(ttlFlag())
    .addOption(settingOption("server.public_url", { describe: "the login server's public URL, to print a whole link" }))
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options, command: Command) => {
      const admin = await import("../../admin.js");
      const { issueInvitation } = await import("../../factors/invitations.js");
      admin.checkNewUsername(username);
      const profile = admin.parseProfile(options);
      const publicUrl = configOf(command).get<string>("server.public_url");
      linkOf("/", publicUrl);
      await withStore(storeOf(command), async (store) => {
        await admin.assertUserAbsent(store, username);
        const now = nowSeconds();
        // No password yet: "" never matches one (see SignIn).
        const user = await admin.addUser(store, { username, passwordHash: "", profile }, now);
        const issued = await issueInvitation(store, user, options.ttl, now);
        await store.audit({ at: now, event: "user.invited", username: user.username, detail: { expiresAt: issued.expiresAt } });
        print(`Added user ${user.username} without a password.`);
        printLink(user.username, linkOf(issued.path, publicUrl), options.ttl, !publicUrl);
      });
    });

  const reset = new Command("reset")
    .description("clear a user's password, end their sessions and print a one-time link where they set a new one")
    .argument("<name>")
    .addOption(ttlFlag())
    .addOption(settingOption("server.public_url", { describe: "the login server's public URL, to print a whole link" }))
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options, command: Command) => {
      const admin = await import("../../admin.js");
      const { issueInvitation } = await import("../../factors/invitations.js");
      const publicUrl = configOf(command).get<string>("server.public_url");
      linkOf("/", publicUrl);
      await withStore(storeOf(command), async (store) => {
        const user = await admin.requireUser(store, username);
        const now = nowSeconds();
        const issued = await issueInvitation(store, user, options.ttl, now);
        await store.setPassword(user.username, "");
        const sessions = await store.deleteUserSessions(user.username);
        const oidc = await admin.endOidcGrants(store, user.username);
        await store.audit({ at: now, event: "user.reset", username: user.username, detail: { sessions, oidc, expiresAt: issued.expiresAt } });
        print(`Cleared the password of ${user.username}; ended ${sessions} session(s).`);
        await printKept(store, user.username, { password: false });
        printLink(user.username, linkOf(issued.path, publicUrl), options.ttl, !publicUrl);
      });
    });

  return [invite, reset];
}
