/**
 * `/metrics` in Prometheus text (prom-client). Counting must cost nothing
 * measurable on forward auth's hot path, so the handlers bump plain numbers in
 * fixed-shape objects, and prom-client's metrics read them only at scrape time
 * (their `collect` callbacks); gauges (queue depth, live sessions, locks) are
 * computed then too. Forward-auth latency is timed for one request in 16.
 * Labels are fixed sets of words: never a user name, an address or a URL.
 */
import client from "prom-client";
import type { Store } from "../store/store.js";
import { MAIL_RESULTS, type MailResult } from "../mail/outbox.js";

export type SignInOutcome = "ok" | "bad_password" | "unknown_user" | "disabled" | "reserved_username" | "throttled" | "busy" | "unavailable" | "missing_fields" | "account_changed"
  // A wrong, replayed or malformed second-factor code; a passkey answer refused
  | "bad_code" | "bad_passkey";
export type ForwardAuthEndpoint = "request" | "forward";
export type ForwardAuthResult = "allowed" | "sign_in_required" | "forbidden" | "unregistered_app" | "malformed" | "untrusted_proxy" | "error";

const SIGN_IN_OUTCOMES: SignInOutcome[] = ["ok", "bad_password", "unknown_user", "disabled", "reserved_username", "throttled", "busy", "unavailable", "missing_fields", "account_changed", "bad_code", "bad_passkey"];
const FORWARD_AUTH_RESULTS: ForwardAuthResult[] = ["allowed", "sign_in_required", "forbidden", "unregistered_app", "malformed", "untrusted_proxy", "error"];
const ENDPOINTS: ForwardAuthEndpoint[] = ["request", "forward"];
/** Forward-auth requests timed: one in SAMPLE_EVERY (a power of two, tested with a mask). */
export const SAMPLE_EVERY = 16;

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

export interface MetricsSources {
  store: Store;
  /** Sign-ins waiting for or in a password check. */
  hashQueueDepth: () => number;
  clock: () => number;
  /** The outbox's counts by result, when mail is configured. */
  mailCounts?: (() => Readonly<Record<MailResult, number>>) | undefined;
  /** Messages waiting in the outbox. */
  mailPending?: (() => number) | undefined;
}

export class ServerMetrics {
  readonly registry = new client.Registry();
  private readonly signIns = zeroes(SIGN_IN_OUTCOMES);
  private readonly decisions: Record<ForwardAuthEndpoint, Record<ForwardAuthResult, number>> = { request: zeroes(FORWARD_AUTH_RESULTS), forward: zeroes(FORWARD_AUTH_RESULTS) };
  private forwardAuthSeen = 0;
  private readonly forwardAuthLatency: client.Histogram<"endpoint">;
  private readonly pageLatency: client.Histogram<"route">;
  /** One store query answers the three gauges of a scrape. */
  private counts: { at: number; value: ReturnType<Store["liveCounts"]> } | null = null;

  constructor(private readonly sources: MetricsSources) {
    const register = this.registry;
    client.collectDefaultMetrics({ register, prefix: "ssoctl_" });
    const signIns = this.signIns;
    const decisions = this.decisions;

    new client.Counter({
      name: "ssoctl_sign_ins_total",
      help: "Sign-in attempts (POST /login) by result",
      labelNames: ["result"],
      registers: [register],
      collect() {
        this.reset();
        for (const result of SIGN_IN_OUTCOMES) this.inc({ result }, signIns[result]);
      },
    });
    new client.Counter({
      name: "ssoctl_forward_auth_decisions_total",
      help: "Forward-auth answers by endpoint (/auth/request, /auth/forward) and result",
      labelNames: ["endpoint", "result"],
      registers: [register],
      collect() {
        this.reset();
        for (const endpoint of ENDPOINTS) for (const result of FORWARD_AUTH_RESULTS) this.inc({ endpoint, result }, decisions[endpoint][result]);
      },
    });
    this.forwardAuthLatency = new client.Histogram({
      name: "ssoctl_forward_auth_duration_seconds",
      help: `Forward-auth answer time, from the request's arrival to its last byte written; one request in ${SAMPLE_EVERY} is timed`,
      labelNames: ["endpoint"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [register],
    });
    this.pageLatency = new client.Histogram({
      name: "ssoctl_http_request_duration_seconds",
      help: "Answer time of the login server's pages (sign-in included), by route",
      labelNames: ["route"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [register],
    });
    new client.Gauge({
      name: "ssoctl_hash_queue_depth",
      help: "Sign-ins in or waiting for a password check",
      registers: [register],
      collect() {
        this.set(sources.hashQueueDepth());
      },
    });
    new client.Counter({
      name: "ssoctl_hash_queue_rejections_total",
      help: "Sign-ins refused with 503 because the password-check queue was full (--hash-queue)",
      registers: [register],
      collect() {
        this.reset();
        this.inc(signIns.busy);
      },
    });
    new client.Counter({
      name: "ssoctl_mail_total",
      help: "Mail messages by result: sent, failed (given up), retried (an attempt to be repeated), dropped (outbox full or server stopping), refused (bad address or header)",
      labelNames: ["result"],
      registers: [register],
      collect() {
        this.reset();
        const counts = sources.mailCounts?.();
        for (const result of MAIL_RESULTS) this.inc({ result }, counts?.[result] ?? 0);
      },
    });
    new client.Gauge({
      name: "ssoctl_mail_queue_depth",
      help: "Mail messages waiting in the outbox or being sent",
      registers: [register],
      collect() {
        this.set(sources.mailPending?.() ?? 0);
      },
    });
    const liveCounts = () => this.liveCounts();
    new client.Gauge({
      name: "ssoctl_live_sessions",
      help: "Sessions not yet expired (all login servers sharing the database)",
      registers: [register],
      async collect() {
        this.set((await liveCounts()).sessions);
      },
    });
    new client.Gauge({
      name: "ssoctl_throttled",
      help: "Usernames and client addresses locked by sign-in throttling now, by scope",
      labelNames: ["scope"],
      registers: [register],
      async collect() {
        const counts = await liveCounts();
        this.set({ scope: "user" }, counts.lockedUsers);
        this.set({ scope: "addr" }, counts.lockedAddrs);
      },
    });
  }

  signIn(outcome: SignInOutcome): void {
    this.signIns[outcome] += 1;
  }

  /** The hot path: one property increment. */
  forwardAuth(endpoint: ForwardAuthEndpoint, result: ForwardAuthResult): void {
    this.decisions[endpoint][result] += 1;
  }

  /** Whether to time this forward-auth request: true for one in SAMPLE_EVERY. */
  sampleForwardAuth(): boolean {
    return (++this.forwardAuthSeen & (SAMPLE_EVERY - 1)) === 0;
  }

  observeForwardAuth(endpoint: ForwardAuthEndpoint, seconds: number): void {
    this.forwardAuthLatency.observe({ endpoint }, seconds);
  }

  observePage(route: string, seconds: number): void {
    this.pageLatency.observe({ route }, seconds);
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    this.counts = null;
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private liveCounts(): ReturnType<Store["liveCounts"]> {
    if (this.counts === null) this.counts = { at: this.sources.clock(), value: this.sources.store.liveCounts(this.sources.clock()) };
    return this.counts.value;
  }
}
