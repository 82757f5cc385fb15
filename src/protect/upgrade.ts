/**
 * WebSocket upgrades through `ssoctl protect`: the handshake goes to the
 * upstream like any request (identity headers set, the client's stripped);
 * only the upstream's `101` turns the two connections into one tunnel, so a
 * refusal reaches the client as the answer it is and never leaves a raw pipe
 * to the upstream open. Either side closing closes the other.
 */
import { request as httpRequest, STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { GuardResponse } from "../guard/response.js";
import { clientResponseHeaders } from "./headers.js";

/** How long a closing side may take to flush what it was sent before it is cut. */
const CLOSE_GRACE_MS = 5_000;

export interface UpgradeTarget {
  /** The upstream's origin, e.g. `http://127.0.0.1:3000`. */
  origin: URL;
  method: string;
  /** Prefix and normalised path, with the query. */
  path: string;
  /** From `upstreamRequestHeaders`: identity set, hop-by-hop and the client's identity headers gone. */
  headers: string[];
  /** The protocol the client asked for (`websocket`). */
  protocol: string;
  setCookie: string | undefined;
  /** Until the upstream's answer to the handshake. */
  timeoutMs: number;
}

export interface UpgradeHooks {
  /** The upstream failed before answering: the page to send (502 or 504). */
  failed(error: unknown): GuardResponse;
  /** The tunnel is open; both sockets close together. */
  opened(client: Duplex, upstream: Duplex): void;
}

/** Sends the handshake upstream and either joins the sockets (on `101`) or passes the upstream's answer on and closes. */
export function proxyUpgrade(client: Duplex, head: Buffer, target: UpgradeTarget, hooks: UpgradeHooks): void {
  // Gone while the guard decided.
  if (client.destroyed) return;
  const send = target.origin.protocol === "https:" ? httpsRequest : httpRequest;
  const upstreamRequest = send({
    hostname: target.origin.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: target.origin.port === "" ? undefined : Number(target.origin.port),
    method: target.method,
    path: target.path,
    // A connection of its own: after the 101 it belongs to this client alone.
    agent: false,
    headers: [...target.headers, "host", target.origin.host, "connection", "Upgrade", "upgrade", target.protocol] as unknown as OutgoingHttpHeaders,
  });
  let answered = false;
  const abandon = (): void => {
    if (!answered) upstreamRequest.destroy();
  };
  client.once("close", abandon);
  // The code undici gives its own header timeout, so the caller answers both with 504.
  upstreamRequest.setTimeout(target.timeoutMs, () => upstreamRequest.destroy(Object.assign(new Error("no answer to the upgrade"), { code: "UND_ERR_HEADERS_TIMEOUT" })));

  upstreamRequest.once("upgrade", (response: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
    answered = true;
    client.off("close", abandon);
    upstream.setTimeout(0);
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    const headers = clientResponseHeaders(response.headers, target.setCookie);
    headers.connection = "Upgrade";
    headers.upgrade = response.headers.upgrade ?? target.protocol;
    client.write(responseHead(101, headers));
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (head.length > 0) upstream.write(head);
    join(client, upstream);
    hooks.opened(client, upstream);
  });

  upstreamRequest.once("response", (response: IncomingMessage) => {
    answered = true;
    client.off("close", abandon);
    const headers = clientResponseHeaders(response.headers, target.setCookie);
    headers.connection = "close";
    client.write(responseHead(response.statusCode ?? 502, headers));
    response.pipe(client, { end: false });
    response.once("end", () => endThenDestroy(client));
    response.once("error", () => client.destroy());
  });

  upstreamRequest.once("error", (error: unknown) => {
    if (answered || client.destroyed) return;
    answered = true;
    client.off("close", abandon);
    writeRawResponse(client, hooks.failed(error));
  });
  upstreamRequest.end();
}

/** A guard answer on a socket no HTTP response object owns any more (an upgrade request); then the connection closes. */
export function writeRawResponse(socket: Duplex, response: GuardResponse): void {
  if (socket.destroyed || socket.writableEnded) return;
  const headers: Record<string, string | string[]> = { ...response.headers, "content-length": String(Buffer.byteLength(response.body)), connection: "close" };
  socket.write(responseHead(response.status, headers));
  endThenDestroy(socket, response.body);
}

function responseHead(status: number, headers: Record<string, string | string[]>): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    for (const item of Array.isArray(value) ? value : [value]) head += `${name}: ${item}\r\n`;
  }
  return `${head}\r\n`;
}

/** Bytes flow both ways until one side ends or fails; then the other is ended (or, on a failure, cut) too. */
function join(client: Duplex, upstream: Duplex): void {
  client.pipe(upstream);
  upstream.pipe(client);
  for (const [from, to] of [
    [client, upstream],
    [upstream, client],
  ] as const) {
    from.once("error", () => {
      from.destroy();
      to.destroy();
    });
    from.once("close", () => endThenDestroy(to));
  }
}

function endThenDestroy(socket: Duplex, last?: string): void {
  if (socket.destroyed) return;
  socket.once("finish", () => socket.destroy());
  const cut = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  cut.unref();
  socket.once("close", () => clearTimeout(cut));
  if (last === undefined) socket.end();
  else socket.end(last);
}
