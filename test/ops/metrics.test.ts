/** /metrics: a real scrape of the real login server, during and after load. */
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SAMPLE_EVERY } from "../../src/ops/metrics.js";
import { makeDataDir, signIn, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { expectError, ssoctl } from "../cli/helpers.js";

const APP = "https://wiki.example.com";
const PASSWORD = "correct horse battery";

/** `name{labels} value` lines of the Prometheus text format, as a map from `name{labels}` to the value. */
function parse(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  const response = await request(`${url}/metrics`, { headers });
  return { status: response.statusCode, type: String(response.headers["content-type"]), body: await response.body.text() };
}

async function forwardAuth(url: string, cookie: string | null): Promise<number> {
  const response = await request(`${url}/auth/request`, {
    headers: { "x-original-url": `${APP}/page`, "x-original-method": "GET", ...(cookie === null ? {} : { cookie: `ssoctl=${cookie}` }) },
  });
  await response.body.dump();
  return response.statusCode;
}

describe("/metrics", () => {
  let data: TestDataDir;
  let server: RunningServer;

  beforeAll(async () => {
    data = await makeDataDir({ users: [{ username: "alice", password: PASSWORD }, { username: "bob", password: PASSWORD }], apps: [APP] });
    server = await startServer(data, { throttle: { user: { limit: 2, windowSeconds: 600, lockSeconds: 600 } } });
  });

  afterAll(async () => {
    await server?.close();
    data?.cleanup();
  });

  it("counts sign-ins and forward-auth decisions exactly under load, scraped while the load runs, with no names or addresses in it", async () => {
    const first = await signIn(server, { username: "alice", password: PASSWORD });
    expect(first.status).toBe(303);
    const second = await signIn(server, { username: "alice", password: PASSWORD });
    expect((await signIn(server, { username: "alice", password: "wrong password" })).status).toBe(401);
    expect((await signIn(server, { username: "nobody", password: "wrong password" })).status).toBe(401);
    // bob: two failures lock him (limit 2); the third attempt is throttled without hashing.
    for (let i = 0; i < 2; i++) expect((await signIn(server, { username: "bob", password: "wrong password" })).status).toBe(401);
    expect((await signIn(server, { username: "bob", password: PASSWORD })).status).toBe(429);

    // Load: 40 clients, 2,000 forward-auth requests, two thirds signed in; scrapes in the middle of it.
    const total = 2000;
    let next = 0;
    const statuses: Record<number, number> = {};
    const midScrapes: Array<{ status: number }> = [];
    const client = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const status = await forwardAuth(server.url, i % 3 === 0 ? null : (i % 2 === 0 ? first.cookie! : second.cookie!));
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (i % 500 === 250) midScrapes.push(await scrape(server.url));
      }
    };
    await Promise.all(Array.from({ length: 40 }, client));
    expect(midScrapes.map((s) => s.status)).toEqual([200, 200, 200, 200]);

    const final = await scrape(server.url);
    expect(final.status).toBe(200);
    expect(final.type).toBe("text/plain; version=0.0.4; charset=utf-8");
    const m = parse(final.body);
    expect({
      ok: m.get('ssoctl_sign_ins_total{result="ok"}'),
      bad: m.get('ssoctl_sign_ins_total{result="bad_password"}'),
      unknown: m.get('ssoctl_sign_ins_total{result="unknown_user"}'),
      throttled: m.get('ssoctl_sign_ins_total{result="throttled"}'),
      busy: m.get('ssoctl_sign_ins_total{result="busy"}'),
    }).toEqual({ ok: 2, bad: 3, unknown: 1, throttled: 1, busy: 0 });
    expect({
      allowed: m.get('ssoctl_forward_auth_decisions_total{endpoint="request",result="allowed"}'),
      required: m.get('ssoctl_forward_auth_decisions_total{endpoint="request",result="sign_in_required"}'),
    }).toEqual({ allowed: statuses[200], required: statuses[401] });
    expect(statuses[200]! + statuses[401]!).toBe(total);
    // One request in SAMPLE_EVERY is timed, counted across both endpoints.
    const timed = (m.get('ssoctl_forward_auth_duration_seconds_count{endpoint="request"}') ?? 0) + (m.get('ssoctl_forward_auth_duration_seconds_count{endpoint="forward"}') ?? 0);
    expect(timed).toBe(Math.floor(total / SAMPLE_EVERY));
    expect(m.get('ssoctl_http_request_duration_seconds_count{route="/login"}')).toBeGreaterThanOrEqual(14);
    expect(m.get("ssoctl_live_sessions")).toBe(2);
    expect(m.get('ssoctl_throttled{scope="user"}')).toBe(1);
    expect(m.get('ssoctl_throttled{scope="addr"}')).toBe(0);
    expect(m.get("ssoctl_hash_queue_depth")).toBe(0);
    expect(m.get("ssoctl_hash_queue_rejections_total")).toBe(0);
    expect(m.get("ssoctl_process_resident_memory_bytes")).toBeGreaterThan(0);
    // Labels are fixed words: no user names, addresses or URLs.
    for (const secret of ["alice", "bob", "nobody", "127.0.0.1", "wiki.example.com", first.cookie!]) expect(final.body).not.toContain(secret);
  }, 60_000);

  it("is refused (403) to an address outside --metrics-allow, also when a trusted proxy forwards it", async () => {
    const forwarded = await scrape(server.url, { "x-forwarded-for": "203.0.113.9" });
    expect(forwarded.status).toBe(403);
    expect(forwarded.body).not.toContain("ssoctl_sign_ins_total");
    const other = await startServer(data, { metricsAllow: ["192.0.2.0/24"] });
    try {
      const refused = await scrape(other.url);
      expect(refused.status).toBe(403);
      expect(refused.body).toContain("--metrics-allow");
    } finally {
      await other.close();
    }
  });

  it("counts sign-ins refused because the password-check queue is full", async () => {
    const busy = await startServer(data, { hashConcurrency: 1, hashQueueLimit: 0 });
    try {
      const results = await Promise.all(Array.from({ length: 6 }, () => signIn(busy, { username: "alice", password: PASSWORD })));
      const refused = results.filter((r) => r.status === 503).length;
      expect(refused).toBeGreaterThan(0);
      const m = parse((await scrape(busy.url)).body);
      expect(m.get("ssoctl_hash_queue_rejections_total")).toBe(refused);
      expect(m.get('ssoctl_sign_ins_total{result="busy"}')).toBe(refused);
      expect(m.get('ssoctl_sign_ins_total{result="ok"}')).toBe(results.filter((r) => r.status === 303).length);
    } finally {
      await busy.close();
    }
  });

  it("ssoctl serve refuses a bad --metrics-allow as a usage error", () => {
    expectError(ssoctl(["serve", "--metrics-allow", "not-a-range", "-d", data.dataDir.dir]), 2, /--metrics-allow "not-a-range" is not an IP address or CIDR range/);
  });
});
