/**
 * A WebSocket app to put behind a proxy in tests: the RFC 6455 handshake
 * (Sec-WebSocket-Accept from sha1) and text frames, written out here so the
 * tests need no WebSocket server library.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { listen, type Running } from "../guard/support.js";

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface WebSocketUpstream extends Running {
  /** Every accepted WebSocket, oldest first. */
  connections: UpstreamConnection[];
  /** Handshakes received, refused ones included. */
  readonly handshakes: number;
}

export interface UpstreamConnection {
  headers: IncomingHttpHeaders;
  url: string;
  closed: Promise<void>;
}

/**
 * Echoes every text message as `echo:<text>`; `bye` makes it close cleanly,
 * `drop` makes it cut the connection; a handshake to `/refuse` gets a 403.
 * A plain request gets `page` (426 without one).
 */
export async function startWebSocketUpstream(options: { page?: string } = {}): Promise<WebSocketUpstream> {
  const connections: UpstreamConnection[] = [];
  const state = { handshakes: 0 };
  const server: Server = createServer((_req, res) => {
    if (options.page !== undefined) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(options.page);
      return;
    }
    res.writeHead(426, { "content-type": "text/plain" });
    res.end("upgrade required");
  });
  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    state.handshakes++;
    if ((req.url ?? "").endsWith("/refuse")) {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n\r\nnot for you, bob");
      return;
    }
    const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"]}${WEBSOCKET_GUID}`).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let resolveClosed!: () => void;
    connections.push({ headers: req.headers, url: req.url ?? "", closed: new Promise((resolve) => (resolveClosed = resolve)) });
    socket.on("close", () => resolveClosed());
    socket.on("error", () => socket.destroy());
    // As WebSocket servers do: the peer's end of the connection ends the WebSocket.
    socket.on("end", () => socket.end());
    let buffered = head;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (let frame = readFrame(buffered); frame !== null; frame = readFrame(buffered)) {
        buffered = buffered.subarray(frame.size);
        if (frame.opcode === 0x8) {
          socket.end(frameOf(0x8, frame.payload));
        } else if (frame.opcode === 0x1) {
          const text = frame.payload.toString("utf8");
          if (text === "bye") socket.end(frameOf(0x8, Buffer.from([0x03, 0xe8])));
          else if (text === "drop") socket.destroy();
          else socket.write(frameOf(0x1, Buffer.from(`echo:${text}`)));
        }
      }
    });
  });
  const running = await listen(server);
  return Object.assign(running, { connections }, {
    get handshakes() {
      return state.handshakes;
    },
  });
}

function readFrame(data: Buffer): { opcode: number; payload: Buffer; size: number } | null {
  if (data.length < 2) return null;
  let length = data[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.length < 4) return null;
    length = data.readUInt16BE(2);
    offset = 4;
  }
  const masked = (data[1]! & 0x80) !== 0;
  const mask = masked ? data.subarray(offset, offset + 4) : null;
  if (masked) offset += 4;
  if (data.length < offset + length) return null;
  const payload = Buffer.from(data.subarray(offset, offset + length));
  if (mask !== null) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i % 4]!;
  return { opcode: data[0]! & 0x0f, payload, size: offset + length };
}

function frameOf(opcode: number, payload: Buffer): Buffer {
  if (payload.length < 126) return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
  const head = Buffer.from([0x80 | opcode, 126, 0, 0]);
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, payload]);
}

