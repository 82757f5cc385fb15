import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A loader hook, registered before anything else, that refuses to resolve
 * better-sqlite3 or argon2 — from ESM or CommonJS, directly or indirectly — nor (issue 15) the
 * metrics and import libraries: prom-client, bcryptjs, apache-md5, unixcrypt, yaml.
 */
const HOOK = `
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (/(^|[\\\\/])node_modules[\\\\/](better-sqlite3|argon2|prom-client|bcryptjs|apache-md5|unixcrypt|yaml)[\\\\/]|^(better-sqlite3|argon2|prom-client|bcryptjs|apache-md5|unixcrypt|yaml)$/.test(result.url + "|" + specifier) ||
      /^(better-sqlite3|argon2|prom-client|bcryptjs|apache-md5|unixcrypt|yaml)(\\/|$)/.test(specifier)) {
    throw new Error("FORBIDDEN_NATIVE_MODULE " + specifier);
  }
  return result;
}`;

function importWithHook(file: string): { status: number | null; output: string } {
  const script = `
    import { register } from "node:module";
    register("data:text/javascript," + encodeURIComponent(${JSON.stringify(HOOK)}));
    const mod = await import(${JSON.stringify(new URL(file, `file://${root}/`).href)});
    const { createRequire } = await import("node:module");
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    if (loaded.some((p) => /better-sqlite3|argon2|prom-client|bcryptjs|apache-md5|unixcrypt|node_modules.yaml/.test(p))) { console.log("LOADED_NATIVE"); process.exit(3); }
    console.log("EXPORTS " + Object.keys(mod).sort().join(","));
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 20_000 });
  return { status: child.status, output: `${child.stdout}${child.stderr}` };
}

describe("the guard's imports", () => {
  beforeAll(() => {
    if (!existsSync(`${root}/dist/guard/index.js`)) throw new Error("dist/ is missing: run `npx tsc -p .` before these tests");
  });

  it("loads dist/guard/index.js without better-sqlite3 or argon2", () => {
    const result = importWithHook("dist/guard/index.js");
    expect(result.output).toContain("EXPORTS loginRedirect");
    expect(result.status).toBe(0);
  });

  it("loads the package entry dist/index.js without them either", () => {
    const result = importWithHook("dist/index.js");
    expect(result.output).toMatch(/EXPORTS .*loginRedirect/);
    expect(result.status).toBe(0);
  });

  it("would notice: the hook refuses the import's hash verifiers", () => {
    const result = importWithHook("dist/foreign-hashes.js");
    expect(result.output).toMatch(/FORBIDDEN_NATIVE_MODULE (bcryptjs|apache-md5|unixcrypt)/);
    expect(result.status).not.toBe(0);
  });

  it("would notice: the hook refuses the SQLite store", () => {
    const result = importWithHook("dist/store/sqlite/store.js");
    expect(result.output).toContain("FORBIDDEN_NATIVE_MODULE better-sqlite3");
    expect(result.status).not.toBe(0);
  });
});
