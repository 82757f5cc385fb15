/** `ssoctl user totp enroll NAME` and `ssoctl user totp reset NAME`. */
import { Command } from "commander";
import { SsoctlError } from "../../errors.js";
import { readFirstLine } from "../password-input.js";
import { databaseOption, dataDirOption, storeOf, nowSeconds, print, withStore } from "../context.js";

export function totpCommand(): Command {
  const totp = new Command("totp").description("a user's authenticator-app codes (second factor)");

  totp
    .command("enroll")
    .description("enrol an authenticator app: prints the otpauth:// URI and a QR code, then reads a code from it")
    .argument("<name>")
    .option("--issuer <text>", "the name the app shows for this account", "ssoctl")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, options: { issuer: string }, command: Command) => {
      const admin = await import("../../admin.js");
      const { newTotpSecret, otpauthUri, groupedSecret } = await import("../../factors/totp.js");
      const { confirmTotp } = await import("../../factors/enrolment.js");
      await withStore(storeOf(command), async (store) => {
        const user = await admin.requireUser(store, username);
        if ((await store.factors.getTotp(user.username)) !== null) {
          throw new SsoctlError(`${user.username} already has an authenticator app; \`ssoctl user totp reset ${user.username}\` first`);
        }
        const secret = newTotpSecret();
        const uri = otpauthUri({ issuer: options.issuer, account: user.username, secret });
        const { qrHalfBlocks } = await import("../../factors/qr-text.js");
        print(qrHalfBlocks(uri, { colour: process.stdout.isTTY === true }));
        print(`Scan the QR code, or add this URI or secret to the authenticator app:\n${uri}\nSecret: ${groupedSecret(secret)}`);
        const code = await readCode();
        const now = nowSeconds();
        const result = await confirmTotp(store, user.username, secret, code, now);
        if (!result.ok) throw new SsoctlError(`${result.problem.replace(/\.$/, "")}; nothing was enrolled`);
        await store.audit({ at: now, event: "user.totp_enrolled", username: user.username, detail: { by: "admin" } });
        print(`Enrolled an authenticator app for ${user.username}. Recovery codes (each works once; shown only now):`);
        print(result.recoveryCodes.map((c) => `  ${c}`).join("\n"));
      });
    });

  totp
    .command("reset")
    .description("remove a user's authenticator app and recovery codes (they sign in with the password alone until they enrol again)")
    .argument("<name>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (username: string, _options, command: Command) => {
      const admin = await import("../../admin.js");
      const { removeTotp } = await import("../../factors/enrolment.js");
      await withStore(storeOf(command), async (store) => {
        const user = await admin.requireUser(store, username);
        const now = nowSeconds();
        const removed = await removeTotp(store, user.username);
        if (removed) await store.audit({ at: now, event: "user.totp_removed", username: user.username, detail: { by: "admin" } });
        print(removed ? `Removed the authenticator app of ${user.username}.` : `${user.username} had no authenticator app.`);
      });
    });

  return totp;
}

/**
 * The confirming code: asked for on a terminal, else the first line of standard input. Ctrl-C
 * while waiting (readline's SIGINT on a terminal, the signal otherwise) ends the command as
 * `user add` does: nothing was stored yet.
 */
async function readCode(): Promise<string> {
  let onInterrupt!: () => void;
  const interrupted = new Promise<never>((_resolve, reject) => {
    onInterrupt = () => reject(new SsoctlError("interrupted; nothing was changed", { exitCode: 130 }));
  });
  process.once("SIGINT", onInterrupt);
  try {
    if (process.stdin.isTTY) {
      const readline = await import("node:readline/promises");
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      rl.once("SIGINT", onInterrupt);
      try {
        return await Promise.race([rl.question("Code from the app: "), interrupted]);
      } finally {
        rl.close();
      }
    }
    process.stderr.write("Reading the code from the app on standard input...\n");
    // Interrupted, the read is abandoned: standard input is closed so the process can exit.
    const line = await Promise.race([readFirstLine(process.stdin), interrupted.catch((error: unknown) => (process.stdin.destroy(), Promise.reject(error)))]);
    if (line.trim() === "") throw new SsoctlError("no code on standard input; nothing was enrolled");
    return line;
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    // A code read: the race's loser must not become an unhandled rejection later.
    interrupted.catch(() => {});
  }
}
