/**
 * `src/` has no import cycle: each module's imports (static, re-exports and dynamic `import()`,
 * but not `import type`, which leaves no trace at run time) are followed over the TypeScript
 * sources, and any path that comes back to where it started is reported as the chain it is.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : [];
  });
}

/** The relative modules a source imports at run time, as absolute .ts paths. */
export function runtimeImports(file: string, text: string): string[] {
  // Comments could hold example imports; strip them first (strings with "//" are rare in import lines).
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specifiers: string[] = [];
  const statement = /(?:^|[;\n])\s*(import|export)\s+(type\s+)?([^;]*?)\s+from\s+["']([^"']+)["']/g;
  for (const match of code.matchAll(statement)) {
    if (match[2] !== undefined) continue;
    // `import { type A, type B } from` is erased too when every name is a type.
    const names = match[3]!.match(/^\{([\s\S]*)\}$/);
    if (names !== null && names[1]!.split(",").every((n) => n.trim() === "" || n.trim().startsWith("type "))) continue;
    specifiers.push(match[4]!);
  }
  for (const match of code.matchAll(/(?:^|[;\n])\s*import\s+["']([^"']+)["']/g)) specifiers.push(match[1]!);
  for (const match of code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) specifiers.push(match[1]!);
  return specifiers.filter((s) => s.startsWith(".")).map((s) => path.resolve(path.dirname(file), s.replace(/\.js$/, ".ts")));
}

/** Every cycle found by a depth-first walk, each as the chain of files (relative to src/). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "walking" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "walking");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "walking") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe("the import graph of src/", () => {
  it("has no cycle", () => {
    const graph = new Map<string, string[]>();
    for (const file of sources(SRC)) graph.set(file, runtimeImports(file, fs.readFileSync(file, "utf8")));
    const cycles = findCycles(graph).map((chain) => chain.map((f) => path.relative(SRC, f)).join(" → "));
    expect(cycles).toEqual([]);
  });

  it("finds a cycle where there is one, and ignores type-only imports", () => {
    const a = path.join(SRC, "a.ts");
    const b = path.join(SRC, "b.ts");
    expect(runtimeImports(a, 'import { x } from "./b.js";\nimport type { Y } from "./c.js";\nimport { type Z } from "./d.js";')).toEqual([b]);
    expect(runtimeImports(a, 'export * from "./b.js";')).toEqual([b]);
    expect(runtimeImports(a, 'const m = await import("./b.js");')).toEqual([b]);
    expect(findCycles(new Map([[a, [b]], [b, [a]]]))).toHaveLength(1);
    expect(findCycles(new Map([[a, [b]], [b, []]]))).toEqual([]);
  });
});
