/** Load with autocannon: bounded in time (and count where it matters), summarised, compared in alternating rounds. */
import autocannon from "autocannon";
import { fork, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One autocannon run; `ok` counts responses whose status is in `okStatuses`. */
export async function load(options, okStatuses = [200]) {
  const result = await autocannon({ connections: 10, pipelining: 1, duration: 3, timeout: 10, ...options });
  const stats = result.statusCodeStats ?? {};
  const ok = okStatuses.reduce((sum, status) => sum + (stats[status]?.count ?? 0), 0);
  const seconds = result.duration;
  return {
    rps: ok / seconds,
    ok,
    total: result.requests.total,
    failed: result.errors + result.timeouts + (result.requests.total - ok),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    statusCodeStats: stats,
    seconds,
  };
}

/**
 * Throughput of `measured` ÷ `baseline` under the same load: a warm-up of each,
 * then `rounds` alternating runs (baseline, measured, …); medians of each side.
 */
export async function compare({ baseline, measured, rounds = 3, seconds = 3, warmupSeconds = 2, connections = 10 }) {
  for (const side of [baseline, measured]) await load({ ...side, duration: warmupSeconds, connections });
  const runs = { baseline: [], measured: [] };
  for (let i = 0; i < rounds; i += 1) {
    const order = i % 2 === 0 ? ["baseline", "measured"] : ["measured", "baseline"];
    for (const name of order) {
      const side = name === "baseline" ? baseline : measured;
      const result = await load({ ...side, duration: seconds, connections });
      if (result.failed > 0) throw new Error(`${side.url}: ${result.failed} of ${result.total} requests failed (${JSON.stringify(result.statusCodeStats)})`);
      runs[name].push(result.rps);
    }
  }
  const base = median(runs.baseline);
  const value = median(runs.measured);
  return { ratio: value / base, baselineRps: base, measuredRps: value, runs };
}

/**
 * Autocannon in its own process (for a flood that must not share the measuring event loop);
 * with `cpus` ("1", "2-3"), pinned to those CPUs with taskset.
 */
export function loadInChild(options, { cpus, script: name = "flood.mjs" } = {}) {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL(`../apps/${name}`, import.meta.url));
    const child = cpus === undefined
      ? fork(script, [JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit", "ipc"] })
      : spawn("taskset", ["-c", cpus, process.execPath, script, JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk) => { out += chunk; });
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`flood exited with ${code}`))));
  });
}
