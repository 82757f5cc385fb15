import { Command } from "commander";
import { readSecret } from "../../data-dir.js";
import { UsageError } from "../../errors.js";
import { formatDuration, parseDuration } from "../../duration.js";
import { dataDirOf, dataDirOption, nowSeconds, print, withStore } from "../context.js";

export function keyCommand(): Command {
  const key = new Command("key").description("the secret key that signs login tokens");

  key
    .command("show")
    .description("print the current secret key, for configuring guards (keep it secret)")
    .addOption(dataDirOption())
    .action((_options, command: Command) => {
      print(readSecret(dataDirOf(command)));
    });

  key
    .command("rotate")
    .description("make a new signing key; the previous one still verifies during the grace period")
    .option("--grace <duration>", "how long the previous key still verifies (90s, 15m, 12h, 30d)", "24h")
    .addOption(dataDirOption())
    .action(async (options, command: Command) => {
      const grace = parseDuration(options.grace);
      if (grace === null) throw new UsageError(`--grace "${options.grace}" is not a duration like 90s, 15m, 12h or 30d`);
      const dataDir = dataDirOf(command);
      readSecret(dataDir);
      const { rotateKey } = await import("../../keyring.js");
      await withStore(dataDir, async (store) => {
        const { kid, previousKid } = await rotateKey(dataDir, store, grace, nowSeconds());
        print(
          `Rotated the signing key (new kid ${kid}); tokens signed with ${previousKid} verify for ${formatDuration(grace)} more.\n` +
            "A running login server picks the new key up by itself; update guards configured with `ssoctl key show`.",
        );
      });
    });

  return key;
}
