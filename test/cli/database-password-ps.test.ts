/**
 * A database password typed on the command line, as a user types it (not percent-encoded), must
 * leave /proc/PID/cmdline (what `ps` shows) while the command runs. The database is a TCP server
 * that accepts and never answers, so the command waits on it long enough to be looked at.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, initDataDir } from "./helpers.js";

const RAW_PASSWORDS = ["Pg Secret 4711", 'Pg=Secret;[4711]^|"<>{}', "Pg@Secret:4711"];

let cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

async function silentDatabase(): Promise<{ port: number; connected: Promise<void> }> {
  const sockets: net.Socket[] = [];
  let onConnection!: () => void;
  const connected = new Promise<void>((resolve) => (onConnection = resolve));
  const server = net.createServer((socket) => {
    sockets.push(socket);
    onConnection();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, connected };
}

async function cmdlineWhileWaiting(args: (port: number) => string[]): Promise<string> {
  const database = await silentDatabase();
  const child = spawn(process.execPath, [BIN, ...args(database.port)], { env: { ...process.env, SSOCTL_DATABASE_URL: "", SSOCTL_DEBUG: "" }, stdio: "ignore" });
  cleanups.push(() => child.kill("SIGKILL"));
  // The connection attempt comes after the arguments were read and masked.
  await database.connected;
  return fs.readFileSync(`/proc/${child.pid}/cmdline`, "utf8");
}

describe("a database password on the command line", () => {
  it.each(RAW_PASSWORDS)("serve --database hides %j from ps", async (password) => {
    const cmdline = await cmdlineWhileWaiting((port) => ["serve", "--port", "0", "--database", `postgres://ssoctl:${password}@127.0.0.1:${port}/sso`]);
    expect(cmdline).toContain("--database");
    expect(cmdline).toContain("postgres://ssoctl:***@127.0.0.1");
    expect(cmdline).not.toContain("Secret");
  });

  it.each(RAW_PASSWORDS)("db copy --to hides %j from ps", async (password) => {
    const dataDir = initDataDir();
    const cmdline = await cmdlineWhileWaiting((port) => ["db", "copy", "--data-dir", dataDir, `--to=postgres://ssoctl:${password}@127.0.0.1:${port}/sso`]);
    expect(cmdline).toContain("--to=postgres://ssoctl:***@127.0.0.1");
    expect(cmdline).not.toContain("Secret");
  });
});
