import { Command } from "commander";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { databaseOption, dataDirOption, nowSeconds, print, storeOf, withStore } from "../context.js";

/** `ssoctl saml …`: the SAML service providers (DESIGN §20). */
export function samlCommand(): Command {
  const saml = new Command("saml").description("manage SAML service providers (apps that sign in through ssoctl with SAML 2.0)");

  saml
    .command("add")
    .description("register a service provider from its metadata; it belongs to APP, whose access rules apply")
    .argument("<app>", "the registered app (URL or name), e.g. https://wiki.example.com")
    .requiredOption("--metadata <file-or-url>", "the SP's SAML metadata: a file, or an http(s) URL to fetch it from")
    .option("--idp-initiated", "also allow sign-ins started at the login server (GET /saml/start?sp=ENTITY-ID)")
    .option("--replace", "update an SP registered already with the same entity ID (its persistent NameIDs stay the same)")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (app: string, options, command: Command) => {
      const { addSp, readMetadataSource } = await import("../../protocols/saml/sp.js");
      const metadataXml = await readMetadataSource(options.metadata);
      await withStore(storeOf(command), async (store) => {
        const { sp, metadata, warnings, replaced } = await addSp(store, { app, metadataXml, idpInitiated: options.idpInitiated === true }, nowSeconds(), { replace: options.replace === true });
        print(
          [
            `${replaced ? "Updated" : "Added"} SAML SP ${sp.entityId} (access rules of ${sp.appOrigin})`,
            ...metadata.acs.filter((a) => a.binding.endsWith("HTTP-POST")).map((a) => `  ACS ${a.index}${a.isDefault ? " (default)" : ""}: ${a.location}`),
            `  signs its requests: ${metadata.signsRequests ? "yes (unsigned ones are refused)" : "no"}; wants signed assertions: ${metadata.wantsAssertionsSigned ? "yes" : "no (the response is signed)"}`,
            ...warnings.map((w) => `  warning: ${w}`),
          ].join("\n"),
        );
      });
    });

  saml
    .command("list")
    .description("list SAML service providers")
    .option("--json", "print a JSON array")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options, command: Command) => {
      const { parseSpMetadata } = await import("../../protocols/saml/metadata.js");
      await withStore(storeOf(command), async (store) => {
        const sps = (await store.saml.listSamlSps()).map((sp) => {
          let acs: string[] = [];
          try {
            acs = parseSpMetadata(sp.metadata).acs.filter((a) => a.binding.endsWith("HTTP-POST")).map((a) => a.location);
          } catch {
            // `doctor` says what is wrong with metadata that no longer parses.
          }
          return { sp, acs };
        });
        if (options.json) {
          writeJsonArray(
            sps.map(({ sp, acs }) => ({ entity_id: sp.entityId, app: sp.appOrigin, acs, idp_initiated: sp.idpInitiated, created: isoTime(sp.createdAt) })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(sps, [
            { header: "ENTITY ID", value: ({ sp }) => sp.entityId },
            { header: "APP", value: ({ sp }) => sp.appOrigin },
            { header: "ACS", value: ({ acs }) => acs.join(" ") },
            { header: "IDP-INITIATED", value: ({ sp }) => (sp.idpInitiated ? "yes" : "no") },
            { header: "CREATED", value: ({ sp }) => isoTime(sp.createdAt) ?? "" },
          ]),
        );
      });
    });

  saml
    .command("remove")
    .description("remove a service provider by entity ID; it can no longer sign anyone in")
    .argument("<entity-id>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (entityId: string, _options, command: Command) => {
      const { removeSp } = await import("../../protocols/saml/sp.js");
      await withStore(storeOf(command), async (store) => {
        await removeSp(store, entityId);
        print(`Removed SAML SP ${entityId}`);
      });
    });

  return saml;
}
