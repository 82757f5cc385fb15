/** A node:http app behind the Node guard (`loginRedirect`), as an app author would write it. */
import { createServer } from "node:http";
import { loginRedirect, type GuardedRequest, type LoginRedirectOptions } from "../../../src/guard/index.js";

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Listens on 127.0.0.1:`port`; the page names the user (`#user`) and the path it was asked for (`#path`). */
export async function startGuardedApp(port: number, options: LoginRedirectOptions): Promise<RunningApp> {
  const guard = loginRedirect(options);
  const server = createServer((req, res) => {
    guard(req, res, (error?: unknown) => {
      if (error !== undefined) {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(String(error));
        return;
      }
      const user = (req as GuardedRequest).user;
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'" });
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>App one</title></head><body>
<h1>App one</h1>
<p>Signed in as <span id="user">${escapeHtml(user.name)}</span><span id="anonymous">${user.anonymous ? " (anonymous)" : ""}</span></p>
<p>Page: <code id="path">${escapeHtml(req.url ?? "")}</code></p>
<p><a id="logout" href="/?logout=1">Sign out</a></p>
</body></html>`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
