/** The demo's protected application: a node:http page behind the Node guard. */
import { createServer, type Server } from "node:http";
import { loginRedirect, type GuardedRequest } from "../guard/index.js";
import { escapeHtml } from "../guard/response.js";

export function createSampleApp(options: { appUrl: string; loginUrl: string; secretKey: string }): Server {
  const guard = loginRedirect({
    loginUrl: options.loginUrl,
    appUrl: options.appUrl,
    secretKey: options.secretKey,
    logoutParameterName: "logout",
    anonymousParameterName: "guest",
  });
  return createServer((req, res) => {
    guard(req, res, (error?: unknown) => {
      if (error !== undefined) {
        res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
        res.end("The guard failed; see the server log.\n");
        process.stderr.write(`sample app: ${(error as Error).message}\n`);
        return;
      }
      const user = (req as GuardedRequest).user;
      const path = escapeHtml((req.url ?? "/").slice(0, 200));
      const who = user.anonymous ? "a guest (anonymous access)" : `<strong>${escapeHtml(user.name)}</strong>`;
      res.writeHead(200, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "Cache-Control": "no-store",
      });
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sample app</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}code{background:#8882;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>Sample app</h1><p>You are signed in as ${who}.</p><p>This page (<code>${path}</code>) is protected by the ssoctl Node guard.</p>
<p><a href="/?logout=1">Sign out</a> · <a href="/somewhere/else?x=1">another page</a></p></body></html>`);
    });
  });
}
