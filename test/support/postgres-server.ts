/** Login servers on one PostgreSQL database, in this process: each with its own store, as separate machines would have. */
import { generateSecret } from "../../src/data-dir.js";
import { hashPassword } from "../../src/passwords.js";
import { resolveServerConfig, type ServerConfigInput } from "../../src/server/config.js";
import { startLoginServer, type LoginServer } from "../../src/server/app.js";
import { DatabaseSigningKeys } from "../../src/signing-keys.js";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import type { TestUser } from "./server.js";

/** What `ssoctl init --database` and a few `user add` / `app add` leave behind. */
export async function initPostgresDatabase(url: string, options: { users?: TestUser[]; apps?: string[] } = {}): Promise<void> {
  const store = await openPostgresStore(url, { create: true });
  const now = Math.floor(Date.now() / 1000);
  await store.createSigningKey(generateSecret(), now);
  for (const user of options.users ?? []) {
    await store.createUser(
      { username: user.username, name: user.name ?? "", email: user.email ?? "", groups: user.groups ?? [], passwordHash: await hashPassword(user.password) },
      now,
    );
  }
  for (const origin of options.apps ?? []) await store.addApp({ name: new URL(origin).host, origin }, now);
  await store.close();
}

export interface PostgresServer {
  url: string;
  login: LoginServer;
  store: PostgresStore;
  logs: string[];
  close(): Promise<void>;
}

export async function startPostgresServer(url: string, config: ServerConfigInput = {}): Promise<PostgresServer> {
  const logs: string[] = [];
  const store = await openPostgresStore(url, { listen: true, onListenChange: (event) => logs.push(JSON.stringify(event)) });
  const login = await startLoginServer(resolveServerConfig({ host: "127.0.0.1", port: 0, ...config }), {
    store,
    keys: new DatabaseSigningKeys(store),
    auditWrite: (line) => logs.push(line),
  });
  return {
    url: login.url,
    login,
    store,
    logs,
    close: async () => {
      await login.close(2000);
      await store.close();
    },
  };
}

