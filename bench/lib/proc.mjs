/** Child processes the benchmark starts, waits for, samples and always stops. */
import { fork, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CLI = `${ROOT}bin/ssoctl`;

const children = new Set();

/** Kills every child still running (called on exit and on a signal). */
export function stopAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
}
process.on("exit", stopAll);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => { stopAll(); process.exit(130); });

/** Stops `child` with the others on exit or a signal. */
export function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Forks a bench app that reports `{ ready: url }` over IPC. */
export async function startApp(script, args = [], { timeoutMs = 15_000, execArgv = [] } = {}) {
  const child = track(fork(fileURLToPath(new URL(`../apps/${script}`, import.meta.url)), args, { stdio: ["ignore", "ignore", "inherit", "ipc"], execArgv }));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in ${timeoutMs} ms`)), timeoutMs);
    child.once("message", (message) => { clearTimeout(timer); resolve(message.ready); });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${script} exited with ${code}`)); });
  });
  return { url, pid: child.pid, stop: () => stopChild(child, "SIGTERM") };
}

/** `ssoctl serve --port 0` as a user runs it; the URL comes from its start-up line. */
export async function startLoginServer(dataDir, { extraArgs = [], execArgv = [], timeoutMs = 15_000 } = {}) {
  const child = track(spawn(process.execPath, [...execArgv, CLI, "serve", "--data-dir", dataDir, "--port", "0", ...extraArgs], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  }));
  let stderr = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ssoctl serve did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match !== null) { clearTimeout(timer); resolve(match[1]); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`ssoctl serve exited with ${code}: ${stderr}`)); });
  });
  // Refusals are logged on stderr; keep draining without holding them.
  let refusals = 0;
  child.stderr.removeAllListeners("data");
  child.stderr.on("data", (chunk) => { refusals += String(chunk).split("\n").length - 1; });
  return { url, pid: child.pid, stop: () => stopChild(child, "SIGTERM"), refusals: () => refusals };
}

async function stopChild(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 12_000);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion; resolves with stdout, wall time in ms and the exit code. */
export function runCommand(args, { input, stdoutToNull = false, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = track(spawn(process.execPath, args, { cwd: ROOT, stdio: ["pipe", stdoutToNull ? "ignore" : "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk) => { stdout += chunk; });
    child.stderr.on("data", (chunk) => { stderr += chunk; });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code !== 0) reject(new Error(`node ${args.join(" ")} exited with ${code}: ${stderr.trim()}`));
      else resolve({ stdout, ms });
    });
    child.stdin.end(input ?? "");
  });
}

/** User + system CPU seconds a process has used so far (Linux /proc; null elsewhere or when it is gone). */
export function cpuSeconds(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** The process and all its descendants (the login server's password worker counts too). */
export function familyOf(pid) {
  const pids = [pid];
  for (let i = 0; i < pids.length; i += 1) {
    try {
      for (const task of fs.readdirSync(`/proc/${pids[i]}/task`)) {
        const children = fs.readFileSync(`/proc/${pids[i]}/task/${task}/children`, "utf8").trim();
        if (children !== "") pids.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // The process is gone.
    }
  }
  return pids;
}

/** Peak resident memory of a process together with its descendants, sampled every `intervalMs`. */
export function sampleRss(pid, intervalMs = 10) {
  let peakKib = 0;
  const read = () => {
    let totalKib = 0;
    for (const member of familyOf(pid)) {
      try {
        const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${member}/status`, "utf8"));
        if (match !== null) totalKib += Number(match[1]);
      } catch {
        // The process is gone.
      }
    }
    peakKib = Math.max(peakKib, totalKib);
  };
  read();
  const timer = setInterval(read, intervalMs);
  return { stop: () => { clearInterval(timer); read(); return peakKib / 1024; }, now: () => { read(); return peakKib / 1024; } };
}

/**
 * Pins a process, every thread of it and its descendants (children started later inherit it) to
 * `cpus` ("0", "1-3") with taskset; false where taskset is missing or the machine has one CPU.
 */
export function pinFamily(pid, cpus) {
  let pinned = true;
  for (const member of familyOf(pid)) {
    const run = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(member)], { stdio: "ignore" });
    if (run.status !== 0) pinned = false;
  }
  return pinned;
}
