import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "ldapts";
import { encodeBoolean, encodeInteger, encodeString, TAG, tlv } from "../../src/protocols/ldap/ber.js";
import { BASE, startLdapFixture, type LdapFixture } from "./support.js";

let fx: LdapFixture;
beforeAll(async () => {
  fx = await startLdapFixture({ maxConnectionsPerAddress: 6, unauthenticatedSeconds: 1 });
});
afterAll(async () => {
  await fx?.close();
});

function port(): number {
  return Number(new URL(fx.url).port);
}

/** Sends bytes on a fresh connection; resolves with what the server sent back once it closed the connection. */
function exchange(bytes: Buffer[], options: { keepOpenMs?: number } = {}): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port(), "127.0.0.1");
    const chunks: Buffer[] = [];
    let closed = false;
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      resolve({ reply: Buffer.concat(chunks), closed });
    });
    socket.on("connect", () => {
      for (const b of bytes) socket.write(b);
    });
    if (options.keepOpenMs !== undefined) {
      setTimeout(() => {
        socket.destroy();
        resolve({ reply: Buffer.concat(chunks), closed });
      }, options.keepOpenMs);
    }
  });
}

const NOTICE = Buffer.from("1.3.6.1.4.1.1466.20036");

function message(id: number, op: Buffer): Buffer {
  return tlv(TAG.sequence, [encodeInteger(id), op]);
}

function bind(id: number, dn: string, password: string): Buffer {
  return message(id, tlv(0x60, [encodeInteger(3), encodeString(dn), encodeString(password, 0x80)]));
}

function search(id: number, filter: Buffer): Buffer {
  return message(
    id,
    tlv(0x63, [encodeString(BASE), encodeInteger(2, TAG.enumerated), encodeInteger(0, TAG.enumerated), encodeInteger(0), encodeInteger(0), encodeBoolean(false), filter, tlv(TAG.sequence, [])]),
  );
}

async function stillServes(): Promise<void> {
  const c = new Client({ url: fx.url, timeout: 25_000 });
  try {
    await c.bind(fx.accounts.media.dn, fx.accounts.media.password);
    const { searchEntries } = await c.search(BASE, { filter: "(uid=bob)" });
    expect(searchEntries).toHaveLength(1);
  } finally {
    await c.unbind();
  }
}

describe("hostile input to the LDAP interface", () => {
  it("answers something that is not LDAP with a notice of disconnection and closes", async () => {
    const { reply, closed } = await exchange([Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]);
    expect(closed).toBe(true);
    expect(reply.includes(NOTICE)).toBe(true);
    await stillServes();
  });

  it("closes on a message announcing more than the size limit, before it arrives", async () => {
    const { reply, closed } = await exchange([Buffer.from([0x30, 0x84, 0x10, 0x00, 0x00, 0x00, 0x02, 0x01])]);
    expect(closed).toBe(true);
    expect(reply.includes(NOTICE)).toBe(true);
  });

  it("closes on malformed BER inside a whole message", async () => {
    const broken = [
      Buffer.from([0x30, 0x03, 0x02, 0x05, 0x01]), // integer longer than its sequence
      Buffer.from([0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00]), // indefinite length
      message(1, Buffer.from([0x60, 0x02, 0x02, 0x01])), // bind request cut short
      message(2, tlv(0x60, [encodeInteger(3), encodeString(Buffer.from([0xff, 0xfe])), encodeString("x", 0x80)])), // DN not UTF-8
      message(3, tlv(0x63, [encodeString(BASE)])), // search without its fields
      message(4, Buffer.from([0x1f, 0x01, 0x00])), // multi-byte tag
    ];
    for (const frame of broken) {
      const { reply, closed } = await exchange([frame]);
      expect(closed).toBe(true);
      expect(reply.includes(NOTICE)).toBe(true);
    }
    await stillServes();
  });

  it("closes on a filter nested deeper than any client needs", async () => {
    let filter = tlv(0x87, Buffer.from("uid"));
    for (let i = 0; i < 200; i += 1) filter = tlv(0xa2, filter);
    const { reply, closed } = await exchange([bind(1, fx.accounts.media.dn, fx.accounts.media.password), search(2, filter)]);
    expect(closed).toBe(true);
    expect(reply.includes(NOTICE)).toBe(true);
    await stillServes();
  });

  it("closes a connection that does not bind in time", async () => {
    const { closed } = await exchange([], { keepOpenMs: 4000 });
    expect(closed).toBe(true);
  });

  it("caps connections per address and keeps serving once they go", async () => {
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 6; i += 1) {
        const s = net.connect(port(), "127.0.0.1");
        s.on("error", () => {});
        await new Promise((resolve) => s.once("connect", resolve));
        sockets.push(s);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const { reply, closed } = await exchange([]);
      expect(closed).toBe(true);
      expect(reply.includes(NOTICE)).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stillServes();
  });

  it("refuses a pipelined flood of requests", async () => {
    const flood = Array.from({ length: 200 }, (_, i) => bind(i + 1, `uid=bob,ou=people,${BASE}`, "wrong-password"));
    const { reply, closed } = await exchange([Buffer.concat(flood)]);
    expect(closed).toBe(true);
    expect(reply.includes(NOTICE)).toBe(true);
    await stillServes();
  });
});
