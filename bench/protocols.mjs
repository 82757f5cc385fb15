/**
 * Per-protocol throughput against a bare node:http server answering the same bytes: CAS ticket
 * validation with fresh tickets, OIDC userinfo with a valid access token, and the token endpoint
 * (code → tokens, which signs an ID token). Called from run.mjs with the running login server and
 * a login cookie. Single-use credentials (tickets, codes) are made before each round and not timed.
 */
import autocannon from "autocannon";
import * as fs from "node:fs";
import { APP_ORIGIN } from "./lib/fixture.mjs";
import { compare, median } from "./lib/load.mjs";
import { CLI, runCommand, startApp } from "./lib/proc.mjs";

const REDIRECT_URI = `${APP_ORIGIN}/oidc/callback`;

/** A bare server answering every request as `response` was answered. */
async function sameBytes(root, name, response) {
  const file = `${root}/${name}.json`;
  const headers = {};
  for (const key of ["content-type", "cache-control", "pragma"]) if (response.headers.get(key) !== null) headers[key] = response.headers.get(key);
  fs.writeFileSync(file, JSON.stringify({ status: response.status, headers, body: await response.text() }));
  return startApp("bytes.mjs", [file]);
}

/** Requests per second for `count` distinct requests (`make(i)` gives each one's path, method, body), 10 connections. */
async function distinctRate(url, requests) {
  let next = 0;
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: 10,
    amount: requests.length,
    timeout: 10,
    requests: [{ setupRequest: (request) => ({ ...request, ...requests[next++ % requests.length] }) }],
  });
  const seconds = (performance.now() - started) / 1000;
  const ok = result.statusCodeStats?.["200"]?.count ?? 0;
  if (ok !== requests.length) throw new Error(`${url}: ${ok} of ${requests.length} answered 200 (${JSON.stringify(result.statusCodeStats)})`);
  return ok / seconds;
}

/** Alternating rounds of `measured` (fresh credentials made by `prepare` first, untimed) and the baseline. */
async function compareDistinct({ rounds, prepare, measuredUrl, baselineUrl }) {
  const runs = { baseline: [], measured: [] };
  for (let i = 0; i < rounds + 1; i += 1) {
    const requests = await prepare();
    const order = i % 2 === 0 ? ["baseline", "measured"] : ["measured", "baseline"];
    for (const side of order) {
      const rate = await distinctRate(side === "baseline" ? baselineUrl : measuredUrl, requests);
      // The first round warms both sides up and is not counted.
      if (i > 0) runs[side].push(rate);
    }
  }
  const base = median(runs.baseline);
  const value = median(runs.measured);
  return { ratio: value / base, baselineRps: base, measuredRps: value, runs };
}

/** A cookie jar over fetch with manual redirects, as a browser carries cookies through a flow. */
function jar(initial) {
  const cookies = new Map(Object.entries(initial));
  return {
    async get(url) {
      const response = await fetch(url, { redirect: "manual", headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") } });
      for (const line of response.headers.getSetCookie()) {
        const [pair] = line.split(";");
        const eq = pair.indexOf("=");
        cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      await response.arrayBuffer();
      return response;
    },
  };
}

/** The authorization code flow through the browser's side, up to the code. */
async function authorizationCode(serverUrl, token, clientId) {
  const browser = jar({ ssoctl: token });
  let location = `${serverUrl}/oidc/auth?${new URLSearchParams({ client_id: clientId, response_type: "code", scope: "openid profile", redirect_uri: REDIRECT_URI, state: "bench" })}`;
  for (let hops = 0; hops < 8; hops += 1) {
    const response = await browser.get(location);
    const next = response.headers.get("location");
    if (next === null) throw new Error(`the authorization flow stopped at ${response.status} (${location})`);
    const url = new URL(next, location);
    if (url.href.startsWith(REDIRECT_URI)) {
      const code = url.searchParams.get("code");
      if (code === null) throw new Error(`no code: ${url.href}`);
      return code;
    }
    location = url.href;
  }
  throw new Error("the authorization flow did not reach the redirect URI");
}

async function inBatches(count, concurrency, make) {
  const out = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await make(i);
    }
  }));
  return out;
}

export async function runProtocolBenchmarks({ data, server, token, record, wanted, rounds, seconds, quick }) {
  if (wanted("cas")) {
    const service = `${APP_ORIGIN}/cas-app/`;
    const ticket = async () => {
      const response = await fetch(`${server.url}/cas/login?service=${encodeURIComponent(service)}`, { redirect: "manual", headers: { cookie: `ssoctl=${token}` } });
      await response.arrayBuffer();
      const issued = new URL(response.headers.get("location") ?? "", server.url).searchParams.get("ticket");
      if (issued === null) throw new Error(`/cas/login gave no ticket (${response.status})`);
      return issued;
    };
    const path = (t) => `/cas/p3/serviceValidate?service=${encodeURIComponent(service)}&ticket=${t}`;
    const sample = await fetch(`${server.url}${path(await ticket())}`);
    const bare = await sameBytes(data.root, "cas", sample);
    const count = quick ? 1000 : 3000;
    const figures = await compareDistinct({
      rounds,
      prepare: async () => (await inBatches(count, 10, ticket)).map((t) => ({ method: "GET", path: path(t) })),
      measuredUrl: server.url,
      baselineUrl: bare.url,
    });
    await bare.stop();
    record("cas_validate_vs_bare", { value: figures.ratio, target: ">= 0.25", ok: figures.ratio >= 0.25, baseline: { what: "bare node:http answering the same serviceValidate XML, req/s", value: figures.baselineRps }, measured: { what: `/cas/p3/serviceValidate, each request a fresh ticket (${count} per round), req/s`, value: figures.measuredRps }, runs: figures.runs });
  }

  if (!wanted("userinfo") && !wanted("token")) return;
  const { stdout } = await runCommand([CLI, "client", "add", "bench-oidc", "--redirect-uri", REDIRECT_URI, "--json", "--data-dir", data.dataDir]);
  const { clientId, clientSecret } = JSON.parse(stdout);
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;
  const tokenRequest = (code) => ({ method: "POST", path: "/oidc/token", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI }).toString() });
  const redeem = (code) => { const r = tokenRequest(code); return fetch(`${server.url}${r.path}`, { method: "POST", headers: r.headers, body: r.body }); };
  try {
    if (wanted("userinfo")) {
      const tokens = await (await redeem(await authorizationCode(server.url, token, clientId))).json();
      if (typeof tokens.access_token !== "string") throw new Error(`no access token: ${JSON.stringify(tokens)}`);
      const headers = { authorization: `Bearer ${tokens.access_token}` };
      const bare = await sameBytes(data.root, "userinfo", await fetch(`${server.url}/oidc/me`, { headers }));
      const figures = await compare({ baseline: { url: `${bare.url}/oidc/me`, headers }, measured: { url: `${server.url}/oidc/me`, headers }, rounds, seconds });
      await bare.stop();
      record("oidc_userinfo_vs_bare", { value: figures.ratio, target: ">= 0.05", ok: figures.ratio >= 0.05, baseline: { what: "bare node:http answering the same userinfo JSON, req/s", value: figures.baselineRps }, measured: { what: "GET /oidc/me with a valid access token, req/s", value: figures.measuredRps }, runs: figures.runs });
    }
    if (wanted("token")) {
      const bare = await sameBytes(data.root, "token", await redeem(await authorizationCode(server.url, token, clientId)));
      const count = quick ? 100 : 300;
      const figures = await compareDistinct({
        rounds,
        prepare: async () => (await inBatches(count, 10, () => authorizationCode(server.url, token, clientId))).map(tokenRequest),
        measuredUrl: server.url,
        baselineUrl: bare.url,
      });
      await bare.stop();
      record("oidc_token_vs_bare", { value: figures.ratio, target: ">= 0.25", ok: figures.ratio >= 0.25, baseline: { what: "bare node:http answering the same token response (read the form, same JSON), req/s", value: figures.baselineRps }, measured: { what: `POST /oidc/token, code → tokens (ID token signed RS256), each request a fresh code (${count} per round), req/s`, value: figures.measuredRps }, runs: figures.runs });
    }
  } finally {
    await runCommand([CLI, "client", "remove", "bench-oidc", "--data-dir", data.dataDir]);
  }
}
