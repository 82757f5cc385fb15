/**
 * The login server with its LDAP interface on 127.0.0.1:0 over a real data directory: users, two
 * apps (one open, one for admins only) and a service account for each.
 */
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { addAppPassword, addLdapAccount } from "../../src/protocols/ldap/credentials.js";
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import type { LdapInterfaceOptions } from "../../src/protocols/ldap/server.js";

export const BASE = "dc=example,dc=org";

export interface LdapFixture {
  data: TestDataDir;
  server: RunningServer;
  url: string;
  /** Service accounts: `media` for the open app, `admin` for the admins-only app. */
  accounts: Record<"media" | "admin", { dn: string; password: string }>;
  /** dave's app password (dave has TOTP). */
  daveAppPassword: string;
  close(): Promise<void>;
}

export const TOTP_SECRET = "JBSWY3DPEHPK3PXP";

export async function startLdapFixture(options: Partial<LdapInterfaceOptions> = {}, config: { maxUserFailures?: number } = {}): Promise<LdapFixture> {
  const data = await makeDataDir({
    users: [
      { username: "alice", password: "alice-pass-1", name: "Alice Example", email: "alice@example.org", groups: ["admins", "staff"] },
      { username: "bob", password: "bob-pass-12", name: "Bob Builder", email: "bob@example.org", groups: ["staff"] },
      { username: "carol", password: "carol-pass-1", name: "Carol Gone", groups: ["staff"], disabled: true },
      { username: "dave", password: "dave-pass-12", name: "Dave Careful", email: "dave@example.org", groups: ["staff"] },
    ],
  });
  const store = openSqliteStore(data.dataDir.dbPath);
  const now = Math.floor(Date.now() / 1000);
  await store.addApp({ name: "media", origin: "https://media.example.org" }, now);
  await store.addApp({ name: "admin", origin: "https://admin.example.org", allowGroups: ["admins"] }, now);
  const media = await addLdapAccount(store, "media", "media", now);
  const admin = await addLdapAccount(store, "admin", "https://admin.example.org", now);
  await store.factors.setTotp("dave", TOTP_SECRET, [], now);
  const dave = await addAppPassword(store, "dave", "media", now);
  await store.close();
  const throttle = config.maxUserFailures === undefined ? undefined : { user: { limit: config.maxUserFailures, windowSeconds: 600, lockSeconds: 600 } };
  const server = await startServer(data, { ...(throttle === undefined ? {} : { throttle }), ldap: { baseDn: BASE, listen: { host: "127.0.0.1", port: 0 }, ...options } });
  return {
    data,
    server,
    url: server.login.ldap!.urls.ldap!,
    accounts: {
      media: { dn: `cn=media,ou=services,${BASE}`, password: media.secret },
      admin: { dn: `cn=admin,ou=services,${BASE}`, password: admin.secret },
    },
    daveAppPassword: dave.secret,
    close: async () => {
      await server.close();
      data.cleanup();
    },
  };
}
