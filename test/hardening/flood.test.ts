/**
 * A flood of sign-ins against `ssoctl serve` with the default hash concurrency:
 * the excess is shed with 503 + Retry-After, nothing answers 500, memory stays
 * bounded, and forward auth (which never hashes) keeps answering throughout.
 */
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, request } from "undici";
import { makeDataDir, type TestDataDir } from "../support/server.js";
import { authRequest, formSession, postLogin, spawnServe, type ServeProcess } from "./support.js";

const APP = "http://127.0.0.1:9";
const ALICE = { username: "alice", password: "alice's password" };
const FLOOD = 400;
const RSS_BOUND_KIB = 600 * 1024;

function rssKiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

describe("a flood of sign-ins", () => {
  let data: TestDataDir;
  let child: ServeProcess;
  const flood = new Agent({ connections: FLOOD, pipelining: 0 });

  beforeAll(async () => {
    data = await makeDataDir({ users: [ALICE], apps: [APP] });
    child = await spawnServe(data.dataDir.dir);
  });
  afterAll(async () => {
    await child.kill();
    await flood.close();
    data.cleanup();
  });

  it("sheds the excess with 503 and Retry-After, never 500, in bounded memory, while forward auth answers", { timeout: 180_000 }, async () => {
    const form = await formSession(child);
    const token = (await postLogin(child, form, ALICE)).token!;
    expect(await authRequest(child, token, `${APP}/`)).toBe(200);

    let peak = rssKiB(child.pid);
    let flooding = true;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(child.pid))), 50);
    const forwardAuth: number[] = [];
    const prober = (async () => {
      while (flooding) forwardAuth.push(await authRequest(child, token, `${APP}/page`));
    })();

    const body = new URLSearchParams({ csrf: form.csrf, ...ALICE }).toString();
    const answers = await Promise.all(
      Array.from({ length: FLOOD }, async () => {
        const response = await request(`${child.url}/login`, {
          method: "POST",
          dispatcher: flood,
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie, origin: child.url },
          body,
        });
        const text = await response.body.text();
        return { status: response.statusCode, retryAfter: response.headers["retry-after"], text };
      }),
    );
    flooding = false;
    await prober;
    clearInterval(sampler);
    peak = Math.max(peak, rssKiB(child.pid));

    const count = (status: number): number => answers.filter((a) => a.status === status).length;
    expect(count(303) + count(503)).toBe(FLOOD);
    expect(count(503)).toBeGreaterThan(FLOOD / 2);
    expect(count(303)).toBeGreaterThan(0);
    for (const answer of answers.filter((a) => a.status === 503)) {
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
      expect(answer.text).toContain("The login server is busy");
    }
    expect(peak).toBeLessThan(RSS_BOUND_KIB);
    expect(forwardAuth.length).toBeGreaterThan(3);
    expect(new Set(forwardAuth)).toEqual(new Set([200]));
    const health = await request(`${child.url}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    expect(child.child.exitCode).toBeNull();
  });
});
