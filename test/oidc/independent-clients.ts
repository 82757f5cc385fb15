/**
 * Relying parties that are not built on the library ssoctl's provider is (openid-client and
 * oidc-provider share an author and a reading of the specs):
 *
 * - passport-openidconnect (Jared Hanson's strategy, on the `oauth` package): the authorization
 *   request, the code exchange, its own ID token checks (issuer, audience, nonce, and `auth_time`
 *   against `max_age`: "Too much time has elapsed since last authentication") and userinfo.
 *   It is driven here as passport itself drives a strategy: `redirect`, `success`, `fail` and
 *   `error` are what the strategy calls.
 * - @badgateway/oauth2-client (Evert Pot's): refresh grants and RFC 7009 revocation, with its own
 *   parsing of OAuth error answers (`oauth2Code`).
 */
import { createRequire } from "node:module";
import { OAuth2Client, type OAuth2Token } from "@badgateway/oauth2-client";

const require = createRequire(import.meta.url);

interface PassportStrategy {
  authenticate(req: unknown, options?: Record<string, unknown>): void;
  _oauth2: { get(url: string, accessToken: string, callback: (error: { statusCode?: number; data?: string } | null, body?: string) => void): void };
}
type StrategyConstructor = new (options: Record<string, unknown>, verify: (...args: unknown[]) => void) => PassportStrategy;
const OpenIDConnectStrategy = (require("passport-openidconnect") as { Strategy: StrategyConstructor }).Strategy;

export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  revocation_endpoint: string;
  claims_parameter_supported?: boolean;
  [key: string]: unknown;
}

export async function discover(server: string): Promise<Discovery> {
  const response = await fetch(`${server}/.well-known/openid-configuration`);
  return (await response.json()) as Discovery;
}

/** What the strategy told passport at the end of one step. */
export type StrategyOutcome =
  | { kind: "redirect"; url: string }
  | { kind: "success"; claims: Record<string, unknown>; userinfo: Record<string, unknown> | undefined; accessToken: string; refreshToken: string | undefined; idToken: string }
  | { kind: "fail"; message: string; status: number | undefined }
  | { kind: "error"; error: Error & { code?: string } };

/** One relying party with passport-openidconnect: one user's session at the app (`session`). */
export class PassportRp {
  private readonly strategy: PassportStrategy;
  /** The app's own session, where the strategy keeps state and nonce. */
  private readonly session: Record<string, unknown> = {};

  constructor(
    private readonly meta: Discovery,
    client: { clientId: string; secret: string },
    private readonly callback: string,
    options: { scope?: string; maxAge?: number; claims?: unknown; loadUserInfo?: boolean } = {},
  ) {
    this.strategy = new OpenIDConnectStrategy(
      {
        issuer: meta.issuer,
        authorizationURL: meta.authorization_endpoint,
        tokenURL: meta.token_endpoint,
        userInfoURL: meta.userinfo_endpoint,
        clientID: client.clientId,
        clientSecret: client.secret,
        callbackURL: callback,
        scope: options.scope ?? "profile email groups",
        nonce: true,
        ...(options.maxAge === undefined ? {} : { maxAge: options.maxAge }),
        ...(options.claims === undefined ? {} : { claims: options.claims }),
        skipUserProfile: options.loadUserInfo === false,
      },
      // The nine-argument verify: everything the strategy learned.
      (_iss: unknown, uiProfile: unknown, _idProfile: unknown, _context: unknown, idToken: unknown, accessToken: unknown, refreshToken: unknown, _params: unknown, done: unknown) => {
        const claims = JSON.parse(Buffer.from(String(idToken).split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
        const userinfo = (uiProfile as { _json?: Record<string, unknown> } | undefined)?._json;
        (done as (e: null, user: unknown) => void)(null, { claims, userinfo, accessToken, refreshToken, idToken });
      },
    );
  }

  private run(query: Record<string, string> | undefined, options: Record<string, unknown> = {}): Promise<StrategyOutcome> {
    return new Promise((resolve) => {
      const step = Object.create(this.strategy) as PassportStrategy & Record<string, unknown>;
      step.redirect = (url: string) => resolve({ kind: "redirect", url });
      step.success = (user: { claims: Record<string, unknown>; userinfo: Record<string, unknown> | undefined; accessToken: string; refreshToken: string | undefined; idToken: string }) =>
        resolve({ kind: "success", ...user, refreshToken: user.refreshToken === undefined || user.refreshToken === "" ? undefined : user.refreshToken });
      step.fail = (challenge: { message?: string } | string | undefined, status?: number) =>
        resolve({ kind: "fail", message: typeof challenge === "string" ? challenge : challenge?.message ?? "", status });
      step.error = (error: Error) => resolve({ kind: "error", error });
      const url = new URL(this.callback);
      step.authenticate({ query: query ?? {}, session: this.session, url: url.pathname, headers: { host: url.host }, connection: {} }, options);
    });
  }

  /** The authorization request the app sends the browser to. */
  async start(options: { prompt?: string } = {}): Promise<string> {
    const outcome = await this.run(undefined, options);
    if (outcome.kind !== "redirect") throw new Error(`expected a redirect, got ${JSON.stringify(outcome)}`);
    return outcome.url;
  }

  /** The browser came back to the callback: the code exchange and the strategy's checks. */
  async finish(callbackUrl: string): Promise<StrategyOutcome> {
    return this.run(Object.fromEntries(new URL(callbackUrl).searchParams));
  }

  /** Userinfo as the strategy's OAuth 2 client fetches it: the status and the parsed body. */
  userinfo(accessToken: string): Promise<{ status: number; body: Record<string, unknown> | null }> {
    return new Promise((resolve) => {
      this.strategy._oauth2.get(this.meta.userinfo_endpoint, accessToken, (error, body) => {
        if (error !== null) resolve({ status: error.statusCode ?? 0, body: parseJson(error.data) });
        else resolve({ status: 200, body: parseJson(body) });
      });
    });
  }
}

function parseJson(text: string | undefined): Record<string, unknown> | null {
  try {
    return text === undefined ? null : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    return null;
  }
}

/** @badgateway/oauth2-client for one confidential client. */
export function oauth2Client(meta: Discovery, client: { clientId: string; secret: string }): OAuth2Client {
  return new OAuth2Client({
    server: meta.issuer,
    clientId: client.clientId,
    clientSecret: client.secret,
    tokenEndpoint: meta.token_endpoint,
    authorizationEndpoint: meta.authorization_endpoint,
    revocationEndpoint: meta.revocation_endpoint,
    authenticationMethod: "client_secret_basic",
  });
}

export function tokenOf(refreshToken: string): OAuth2Token {
  return { accessToken: "", refreshToken, expiresAt: null };
}
