/** Summarises a .cpuprofile: self time per function (file:line), top N. */
import * as fs from "node:fs";

export function topFunctions(file, count = 25) {
  const profile = JSON.parse(fs.readFileSync(file, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfTicks = new Map();
  for (const id of profile.samples) selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
  const totals = new Map();
  let all = 0;
  for (const [id, ticks] of selfTicks) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key = `${functionName || "(anonymous)"} ${url.replace(/^.*\/(node_modules|dist|bench)\//, "$1/")}:${lineNumber + 1}`;
    totals.set(key, (totals.get(key) ?? 0) + ticks);
    all += ticks;
  }
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, ticks]) => `${((ticks / all) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of topFunctions(process.argv[2], Number(process.argv[3] ?? 25))) console.log(line);
}
