/**
 * The notification connection dies without a reset (a NAT or load balancer dropping an idle flow):
 * a TCP relay between the login server and PostgreSQL stops passing that connection's bytes and
 * never closes it. Revocations made elsewhere must still take effect: the server notices the
 * silence, stops trusting its caches, and listens again on a new connection.
 */
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/store.js";
import { startTestPostgres, type TestPostgres } from "../support/postgres.js";
import { initPostgresDatabase, startPostgresServer, type PostgresServer } from "../support/postgres-server.js";
import { fetchPage, signIn } from "../support/server.js";

const APP = "http://app.test";
const ALICE = { username: "alice", password: "correct horse battery" };

interface Relay {
  port: number;
  /** Stops passing bytes both ways on every connection that sent `LISTEN`, without closing it. */
  stallListeners(): number;
  close(): void;
}

/** 127.0.0.1:PORT → the cluster's Unix socket, byte for byte, until told to stall a connection. */
async function startRelay(socketPath: string): Promise<Relay> {
  const pairs: Array<{ client: net.Socket; server: net.Socket; listener: boolean; stalled: boolean }> = [];
  const relay = net.createServer((client) => {
    const server = net.connect(socketPath);
    const pair = { client, server, listener: false, stalled: false };
    pairs.push(pair);
    client.on("data", (chunk: Buffer) => {
      if (chunk.includes("LISTEN ")) pair.listener = true;
      if (!pair.stalled) server.write(chunk);
    });
    server.on("data", (chunk: Buffer) => {
      if (!pair.stalled) client.write(chunk);
    });
    const end = (): void => {
      client.destroy();
      server.destroy();
    };
    client.on("error", end);
    server.on("error", end);
    client.on("close", end);
    server.on("close", end);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    stallListeners: () => {
      let stalled = 0;
      for (const pair of pairs) {
        if (pair.listener && !pair.client.destroyed && !pair.stalled) {
          pair.stalled = true;
          stalled += 1;
        }
      }
      return stalled;
    },
    close: () => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.server.destroy();
      }
      relay.close();
    },
  };
}

let cluster: TestPostgres;
let relay: Relay;
let server: PostgresServer;
/** The command line's connection, straight to the database. */
let cli: PostgresStore;

beforeAll(async () => {
  cluster = await startTestPostgres();
  const direct = await cluster.createDatabase();
  await initPostgresDatabase(direct, { users: [ALICE], apps: [APP] });
  relay = await startRelay(path.join(cluster.socketDir, ".s.PGSQL.5432"));
  server = await startPostgresServer(`postgres://postgres@127.0.0.1:${relay.port}/${new URL(direct).pathname.slice(1)}`);
  cli = await openPostgresStore(direct);
});

afterAll(async () => {
  await server?.close();
  await cli?.close();
  relay?.close();
  cluster?.destroy();
});

async function forwardAuth(token: string): Promise<number> {
  const reply = await fetchPage(`${server.url}/auth/request`, {
    headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP}/page`, "x-original-method": "GET" },
  });
  return reply.status;
}

const soon = { timeout: 15_000, interval: 50 };

describe("a login server whose notification connection stalls without a reset", () => {
  it("stops serving a revoked login from its caches, and listens again on a new connection", async () => {
    const first = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    const second = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    expect(await forwardAuth(first)).toBe(200);
    expect(await forwardAuth(second)).toBe(200);
    await expect.poll(() => server.store.isListening, soon).toBe(true);

    expect(relay.stallListeners()).toBe(1);
    // Revoked elsewhere while this server hears nothing: its cached logins must not keep answering 200.
    await cli.deleteAllSessions();
    await expect.poll(() => forwardAuth(first), soon).toBe(401);
    expect(server.logs.some((line) => line.includes('"connected":false') && line.includes("heartbeat"))).toBe(true);

    // It listens again by itself, on a new connection through the same relay, and follows writes from there.
    await expect.poll(() => server.store.isListening, soon).toBe(true);
    const third = (await signIn(server, ALICE, { rd: `${APP}/` })).cookie!;
    expect(await forwardAuth(third)).toBe(200);
    expect(await forwardAuth(third)).toBe(200);
    await cli.setDisabled("alice", true);
    await expect.poll(() => forwardAuth(third), soon).toBe(401);
    expect(await forwardAuth(second)).toBe(401);
  });
});
