import { Command } from "commander";
import { formatTable, isoTime, writeJsonArray } from "../output.js";
import { databaseOption, dataDirOption, nowSeconds, print, storeOf, withStore } from "../context.js";

/** `ssoctl client …`: the OpenID Connect relying parties (DESIGN §14). */
export function clientCommand(): Command {
  const client = new Command("client").description("manage OpenID Connect clients (apps that sign in through ssoctl with OIDC)");

  client
    .command("add")
    .description(
      "register a client; prints its client id and, unless --public, a secret (shown once). Every client registered here is first-party: no consent page, and offline_access gives it a refresh token without prompt=consent",
    )
    .argument("<name>", "a name for the client, e.g. grafana")
    .requiredOption("--redirect-uri <uri...>", "where the client receives the sign-in (exact; repeatable)")
    .option("--app <url>", "the registered app whose access rules apply (default: the redirect URI's app, if registered)")
    .option("--public", "a client that cannot keep a secret (single-page or native app): no secret, PKCE required")
    .option("--post-logout-uri <uri...>", "where the client may send the user after signing out (exact; repeatable)")
    .option("--id-token-alg <alg>", "RS256 (default) or ES256")
    .option("--json", "print a JSON object: clientId, clientSecret")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (name: string, options, command: Command) => {
      const { addClient } = await import("../../protocols/oidc/clients.js");
      await withStore(storeOf(command), async (store) => {
        const { client: added, secret } = await addClient(
          store,
          {
            name,
            redirectUris: options.redirectUri ?? [],
            postLogoutUris: options.postLogoutUri ?? [],
            app: options.app,
            public: options.public === true,
            idTokenAlg: options.idTokenAlg,
          },
          nowSeconds(),
        );
        if (options.json) {
          print(JSON.stringify({ clientId: added.clientId, clientSecret: secret }));
          return;
        }
        print(
          [
            `Added client ${added.name}${added.appOrigin === null ? "" : ` (access rules of ${added.appOrigin})`}`,
            `  client id:     ${added.clientId}`,
            secret === null ? "  public client: no secret; the client must use PKCE (S256)" : `  client secret: ${secret}`,
            ...(secret === null ? [] : ["", "The secret is shown only now; ssoctl keeps only its hash. Lost it? Remove the client and add it again."]),
          ].join("\n"),
        );
      });
    });

  client
    .command("list")
    .description("list OpenID Connect clients")
    .option("--json", "print a JSON array")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (options, command: Command) => {
      await withStore(storeOf(command), async (store) => {
        const clients = await store.listOidcClients();
        if (options.json) {
          writeJsonArray(
            clients.map((c) => ({
              name: c.name,
              clientId: c.clientId,
              public: c.secretHash === null,
              redirectUris: c.redirectUris,
              postLogoutUris: c.postLogoutUris,
              app: c.appOrigin,
              idTokenAlg: c.idTokenAlg,
              created: isoTime(c.createdAt),
            })),
            (text) => process.stdout.write(text),
          );
          return;
        }
        process.stdout.write(
          formatTable(clients, [
            { header: "NAME", value: (c) => c.name },
            { header: "CLIENT ID", value: (c) => c.clientId },
            { header: "TYPE", value: (c) => (c.secretHash === null ? "public" : "confidential") },
            { header: "REDIRECT URIS", value: (c) => c.redirectUris.join(" ") },
            { header: "APP", value: (c) => c.appOrigin ?? "" },
            { header: "CREATED", value: (c) => isoTime(c.createdAt) ?? "" },
          ]),
        );
      });
    });

  client
    .command("remove")
    .description("remove a client, by name or client id; its tokens stop working")
    .argument("<name>")
    .addOption(dataDirOption())
    .addOption(databaseOption())
    .action(async (name: string, _options, command: Command) => {
      const { removeClient } = await import("../../protocols/oidc/clients.js");
      await withStore(storeOf(command), async (store) => {
        const removed = await removeClient(store, name, nowSeconds());
        print(`Removed client ${removed.name} (${removed.clientId})`);
      });
    });

  return client;
}
