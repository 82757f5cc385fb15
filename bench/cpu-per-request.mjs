/**
 * Server CPU per request, from /proc/PID/stat (user + system), under the same load as
 * the bench: the bare server, /auth/request with a valid login, and /healthz, in
 * alternating rounds. Linux only. Run `tsc -p .` first.
 *   node bench/cpu-per-request.mjs
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { APP_ORIGIN, makeDataDir, populate, signIn } from "./lib/fixture.mjs";
import { load, median } from "./lib/load.mjs";
import { startApp, startLoginServer, stopAll } from "./lib/proc.mjs";

const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux
const cpuTicks = (pid) => {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
};

if (os.platform() !== "linux") throw new Error("needs /proc (Linux)");
const data = await makeDataDir("cpu");
try {
  await populate(data);
  const server = await startLoginServer(data.dataDir);
  const token = await signIn(server.url);
  const bare = await startApp("bare.mjs");
  const headers = { cookie: `ssoctl=${token}`, "x-original-url": `${APP_ORIGIN}/reports/2024?page=2`, "x-original-method": "GET" };
  const sides = [
    { name: "bare", pid: bare.pid, url: `${bare.url}/auth/request` },
    { name: "/auth/request", pid: server.pid, url: `${server.url}/auth/request` },
    { name: "/healthz", pid: server.pid, url: `${server.url}/healthz` },
  ];
  for (const side of sides) {
    await load({ url: side.url, headers, duration: 1 });
    side.us = [];
    side.rps = [];
  }
  for (let round = 0; round < 3; round += 1) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const before = cpuTicks(side.pid);
      const result = await load({ url: side.url, headers, duration: 3 });
      if (result.failed > 0) throw new Error(`${side.name}: ${JSON.stringify(result.statusCodeStats)}`);
      side.us.push(((cpuTicks(side.pid) - before) * TICK_US) / result.total);
      side.rps.push(result.rps);
    }
  }
  const base = median(sides[0].rps);
  for (const side of sides) {
    console.log(`${side.name.padEnd(14)} ${median(side.us).toFixed(1).padStart(6)} µs/request  ${String(Math.round(median(side.rps))).padStart(6)} req/s  ${(median(side.rps) / base).toFixed(2)} of bare`);
  }
  await bare.stop();
  await server.stop();
} finally {
  data.cleanup();
  stopAll();
}
