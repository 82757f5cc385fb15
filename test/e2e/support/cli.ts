/** The `ssoctl` command as a user runs it: `node bin/ssoctl …` in a child process. */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export async function runSsoctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!fs.existsSync(path.join(ROOT, "dist/cli/main.js"))) {
    throw new Error("dist/ is missing: build first with `npx tsc -p .` (npm run test:e2e does it)");
  }
  const child = spawn(process.execPath, [path.join(ROOT, "bin/ssoctl"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  return { code, stdout, stderr };
}
