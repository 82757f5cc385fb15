/** Shared by the guard and protect tests: servers on ephemeral ports and tokens made with signToken. */
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { generateSecret } from "../../src/data-dir.js";
import { signToken } from "../../src/token.js";

export const LOGIN_URL = "http://127.0.0.1:8081/login";

export interface Running {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function listen(handlerOrServer: RequestListener | Server): Promise<Running> {
  const server = typeof handlerOrServer === "function" ? createServer(handlerOrServer) : handlerOrServer;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function newKey(): string {
  return generateSecret();
}

export async function makeToken(
  secret: string,
  options: { username?: string; anonymous?: boolean; audience?: string; sessionId?: string; expiresIn?: number; issuer?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken(
    {
      username: options.username ?? "alice",
      sessionId: options.sessionId ?? "sess-" + Math.random().toString(36).slice(2),
      issuedAt: now - 10,
      expiresAt: now + (options.expiresIn ?? 3600),
      issuer: options.issuer ?? "http://127.0.0.1:8081",
      anonymous: options.anonymous ?? false,
      audience: options.audience,
    },
    secret,
  );
}

/** The `name=value` part of each Set-Cookie header. */
export function setCookies(headers: Record<string, string | string[] | undefined>): string[] {
  const value = headers["set-cookie"];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function cookieValue(setCookie: string, name: string): string | null {
  const first = setCookie.split(";")[0]!;
  const eq = first.indexOf("=");
  return first.slice(0, eq) === name ? first.slice(eq + 1) : null;
}
