/** A tiny app to put behind a proxy: it answers with what it was sent, as JSON. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface Echo {
  method: string;
  url: string;
  /** Every request header whose name starts with "remote", as the app received it. */
  remote: Record<string, string | string[] | undefined>;
}

export interface RunningUpstream {
  url: string;
  /** Requests the app received, oldest first. */
  received: Echo[];
  close(): Promise<void>;
}

export async function startUpstream(): Promise<RunningUpstream> {
  const received: Echo[] = [];
  const server = createServer((req, res) => {
    const remote: Echo["remote"] = {};
    for (const [name, value] of Object.entries(req.headers)) if (name.startsWith("remote")) remote[name] = value;
    const echo: Echo = { method: req.method ?? "", url: req.url ?? "", remote };
    received.push(echo);
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(echo));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
