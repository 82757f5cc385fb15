/** Shared by the forward-auth tests: users, a signed-in cookie, and a store that can be made to fail. */
import { openSqliteStore } from "../../src/store/sqlite/store.js";
import { resolveServerConfig, type ServerConfigInput } from "../../src/server/config.js";
import { startLoginServer } from "../../src/server/app.js";
import type { Store } from "../../src/store/store.js";
import { signIn, type TestDataDir } from "../support/server.js";

export const APP = "http://app.example.test:8443";
export const ALICE = {
  username: "alice",
  password: "correct horse",
  name: "Zoë Liddell",
  email: "alice@example.com",
  groups: ["admins", "staff"],
};
export const BOB = { username: "bob", password: "bob's password" };
export const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/** Signs in through the real login form and returns a `Cookie` header value. */
export async function loginCookie(server: { url: string }, user: { username: string; password: string } = ALICE): Promise<string> {
  const result = await signIn(server, user, { rd: `${APP}/` });
  if (result.status !== 303 || result.cookie === undefined) throw new Error(`sign-in failed with ${result.status}: ${result.body}`);
  return `ssoctl=${result.cookie}`;
}

/** Header values come as Latin-1 on the wire; the server sends UTF-8 bytes. */
export function utf8(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" ? Buffer.from(value, "latin1").toString("utf8") : undefined;
}

export interface FailingServer {
  url: string;
  /** From now on every store call throws (as a disk or lock error would). */
  breakStore(): void;
  close(): Promise<void>;
}

/** The real login server over a store that can be made to fail mid-run. */
export async function startServerWithBreakableStore(data: TestDataDir, config: ServerConfigInput = {}): Promise<FailingServer> {
  const real = openSqliteStore(data.dataDir.dbPath);
  let broken = false;
  let counter = 0;
  const store = new Proxy(real, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      if (!broken || property === "close") return (value as (...args: unknown[]) => unknown).bind(target);
      // A changing counter makes every cache re-read, so each path meets the failure.
      if (property === "changeCounter") return () => ++counter;
      return async () => {
        throw new Error("SQLITE_IOERR: disk I/O error");
      };
    },
  }) as Store;
  const login = await startLoginServer(resolveServerConfig({ host: "127.0.0.1", port: 0, ...config }), {
    store,
    dataDir: data.dataDir,
    auditWrite: () => {},
  });
  return {
    url: login.url,
    breakStore: () => {
      broken = true;
    },
    close: async () => {
      await login.close(2000);
      await real.close();
    },
  };
}
