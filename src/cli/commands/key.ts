import { Command } from "commander";
import { UsageError } from "../../errors.js";
import { formatDuration, parseDuration } from "../../duration.js";
import { databaseOption, dataDirOption, nowSeconds, oidcKeysOf, print, signingKeysOf, storeOf, withStore } from "../context.js";

export function keyCommand(): Command {
  const key = new Command("key").description("the secret key that signs login tokens");

  key
    .command("show")
    .description("print the current secret key, for configuring guards (keep it secret)")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (_options, command: Command) => {
      const location = storeOf(command);
      if (location.engine === "sqlite") {
        const { readSecret } = await import("../../data-dir.js");
        print(readSecret(location.dataDir));
        return;
      }
      await withStore(location, async (store) => print(await (await signingKeysOf(location, store)).current()));
    });

  key
    .command("rotate")
    .description("make a new signing key; the previous one still verifies during the grace period")
    .option("--grace <duration>", "how long the previous key still verifies (90s, 15m, 12h, 30d)", "24h")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options, command: Command) => {
      const grace = parseDuration(options.grace);
      if (grace === null) throw new UsageError(`--grace "${options.grace}" is not a duration like 90s, 15m, 12h or 30d`);
      const location = storeOf(command);
      if (location.engine === "sqlite") {
        const { readSecret } = await import("../../data-dir.js");
        readSecret(location.dataDir);
      }
      const { rotateKey } = await import("../../keyring.js");
      await withStore(location, async (store) => {
        const { kid, previousKid } = await rotateKey(await signingKeysOf(location, store), store, grace, nowSeconds());
        // The OpenID provider's keys too: new ones sign, the old ones stay in the JWKS for the grace.
        const { rotateOidcKeys } = await import("../../protocols/oidc/keys.js");
        const oidcKids = await rotateOidcKeys(await oidcKeysOf(location, store), grace, nowSeconds());
        // The SAML key too: both certificates are in /saml/metadata during the grace.
        const { rotateSamlKeys, fingerprint, CERTIFICATE_NAME } = await import("../../protocols/saml/keys.js");
        const saml = await rotateSamlKeys(store.factors, CERTIFICATE_NAME, grace, nowSeconds());
        print(
          `Rotated the signing key (new kid ${kid}); tokens signed with ${previousKid} verify for ${formatDuration(grace)} more.\n` +
            `Rotated the OpenID Connect signing keys (new kids ${oidcKids.join(", ")}); the previous ones stay published for ${formatDuration(grace)}.\n` +
            `Rotated the SAML signing key (new certificate SHA-256 ${fingerprint(saml.current.certificate)}); both certificates are in /saml/metadata for ${formatDuration(grace)}: SPs that copied the metadata need the new one before then.\n` +
            (location.engine === "postgres"
              ? "Every login server on this database picks the new key up by itself; update guards configured with `ssoctl key show`."
              : "A running login server picks the new key up by itself; update guards configured with `ssoctl key show`."),
        );
      });
    });

  return key;
}
