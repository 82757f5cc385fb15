/**
 * The limits the login server and `ssoctl protect` put on their clients, so a
 * slow or malformed client costs one connection for a bounded time and gets
 * a status line, never a crash.
 */
import type { ServerOptions } from "node:http";
import type { Duplex } from "node:stream";

export interface ClientTimeouts {
  /** Time to send the request headers (408 after). */
  headersMs: number;
  /** Time to send the whole request, body included (408 after). */
  requestMs: number;
  /** How long an idle keep-alive connection stays open. */
  keepAliveMs: number;
}

/** Options for `http.createServer`; `maxHeaderBytes` defaults to Node's (16 KiB). */
export function clientLimitOptions(timeouts: ClientTimeouts, options: { maxHeaderBytes?: number } = {}): ServerOptions {
  return {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    ...(options.maxHeaderBytes === undefined ? {} : { maxHeaderSize: options.maxHeaderBytes }),
    // Node checks the header and request timeouts only every connectionsCheckingInterval (30 s by
    // default), which made a 10 s header timeout up to 40 s for a slow client; each second keeps it near.
    connectionsCheckingInterval: 1_000,
  };
}

/** The server's `clientError` listener: a status line for malformed HTTP, oversized headers and timeouts, then close. */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (socket.writable && !socket.writableEnded) {
    const status =
      error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
  socket.destroy();
}
