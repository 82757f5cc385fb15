/**
 * Profiles the login server under one bench scenario with `node --cpu-prof`:
 *   node bench/profile.mjs forward-auth|flood|nginx
 * (nginx: a static file behind real nginx `auth_request`, the README's keep-alive configuration)
 * Prints the top functions by self time; the .cpuprofile stays in bench/profiles/.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { APP_ORIGIN, makeDataDir, populate, signIn, signInForm } from "./lib/fixture.mjs";
import { load, loadInChild } from "./lib/load.mjs";
import { startLoginServer } from "./lib/proc.mjs";
import { startNginx } from "./lib/nginx.mjs";
import { topFunctions } from "./lib/cpuprofile.mjs";

const scenario = process.argv[2] ?? "forward-auth";
const dir = fileURLToPath(new URL(`./profiles/${scenario}-${Date.now()}`, import.meta.url));
fs.mkdirSync(dir, { recursive: true });
const data = await makeDataDir("profile");
try {
  await populate(data);
  const server = await startLoginServer(data.dataDir, { execArgv: ["--cpu-prof", `--cpu-prof-dir=${dir}`] });
  const token = await signIn(server.url);
  const forwardAuth = {
    url: `${server.url}/auth/request`,
    headers: { cookie: `ssoctl=${token}`, "x-original-url": `${APP_ORIGIN}/reports`, "x-original-method": "GET" },
  };
  if (scenario === "forward-auth") {
    console.log(await load({ ...forwardAuth, duration: 6 }));
  } else if (scenario === "nginx") {
    const file = path.join(data.root, "index.html");
    fs.writeFileSync(file, `<!doctype html><title>Reports</title>\n${"<p>A protected static page.</p>\n".repeat(60)}`);
    const nginx = await startNginx({ loginUrl: server.url, file });
    console.log(await load({ url: `${nginx.authUrl}/index.html`, headers: { host: new URL(APP_ORIGIN).host, cookie: `ssoctl=${token}` }, duration: 6 }));
    await nginx.stop();
  } else {
    const form = await signInForm(server.url);
    const flood = loadInChild({ url: `${server.url}/login`, method: "POST", headers: form.headers, body: form.body, connections: 64, duration: 8, maxOverallRequests: 5000, timeout: 20 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    console.log(await load({ ...forwardAuth, connections: 10, overallRate: 1000, duration: 5 }));
    console.log(await flood);
  }
  await server.stop();
  const file = fs.readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  console.log(`\n${path.join(dir, file)}`);
  for (const line of topFunctions(path.join(dir, file), 30)) console.log(line);
} finally {
  data.cleanup();
}
