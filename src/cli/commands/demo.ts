import { Command } from "commander";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { createPrivateFile, generateSecret, resolveDataDir } from "../../data-dir.js";
import { UsageError } from "../../errors.js";
import { listenError, untilSignal } from "../lifecycle.js";

export function demoCommand(): Command {
  return new Command("demo")
    .description("try it: a temporary login server with a demo user and a protected sample app; Ctrl-C stops both")
    .option("--port <number>", "login server port", "8081")
    .option("--app-port <number>", "sample app port", "8080")
    .action(async (options) => {
      const port = Number(options.port);
      const appPort = Number(options.appPort);
      for (const [flag, value] of [["--port", port], ["--app-port", appPort]] as const) {
        if (!Number.isInteger(value) || value < 1 || value > 65535) throw new UsageError(`${flag} takes a port number from 1 to 65535`);
      }
      await runDemo({ port, appPort });
    });
}

async function runDemo(ports: { port: number; appPort: number }): Promise<void> {
  const [{ openSqliteStore }, { hashPassword }, { resolveServerConfig }, { startLoginServer }, { createSampleApp }] = await Promise.all([
    import("../../store/sqlite/store.js"),
    import("../../passwords.js"),
    import("../../server/config.js"),
    import("../../server/app.js"),
    import("../../demo/sample-app.js"),
  ]);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-demo-"));
  const dataDir = resolveDataDir(path.join(root, "data"));
  const loginUrl = `http://127.0.0.1:${ports.port}`;
  const appUrl = `http://127.0.0.1:${ports.appPort}`;
  const password = randomBytes(9).toString("base64url");
  const secret = generateSecret();

  fs.mkdirSync(dataDir.dir, { mode: 0o700 });
  createPrivateFile(dataDir.dbPath, "");
  createPrivateFile(dataDir.keyPath, secret + "\n");
  const store = openSqliteStore(dataDir.dbPath, { create: true });
  const now = Math.floor(Date.now() / 1000);
  await store.createUser({ username: "demo", name: "Demo User", email: "demo@example.com", groups: ["demo"], passwordHash: await hashPassword(password) }, now);
  await store.addApp({ name: "Sample app", origin: appUrl }, now);

  const stopped = untilSignal();
  let server;
  try {
    server = await startLoginServer(resolveServerConfig({ host: "127.0.0.1", port: ports.port, title: "ssoctl demo" }), { store, dataDir });
  } catch (error) {
    await store.close();
    fs.rmSync(root, { recursive: true, force: true });
    throw listenError(error, "127.0.0.1", ports.port);
  }
  const app = createSampleApp({ appUrl, loginUrl: `${loginUrl}/login`, secretKey: secret });
  try {
    app.listen(ports.appPort, "127.0.0.1");
    await once(app, "listening");
  } catch (error) {
    await server.close(1000);
    await store.close();
    fs.rmSync(root, { recursive: true, force: true });
    throw listenError(error, "127.0.0.1", ports.appPort);
  }

  process.stderr.write(
    [
      "",
      "ssoctl demo is running.",
      `  Open ${appUrl}/ in a browser and sign in as:`,
      `    username: demo`,
      `    password: ${password}`,
      `  Login server: ${loginUrl}/login   (data in ${dataDir.dir}, removed on exit)`,
      `  Add ?guest=1 to a sample-app URL for anonymous access, ?logout=1 to sign out.`,
      "  Ctrl-C stops both.",
      "",
    ].join("\n"),
  );
  await stopped;
  app.close();
  app.closeAllConnections();
  await server.close(2000);
  await store.close();
  fs.rmSync(root, { recursive: true, force: true });
  process.stderr.write("ssoctl demo stopped; its temporary data directory is removed.\n");
}
