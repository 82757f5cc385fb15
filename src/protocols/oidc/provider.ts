/**
 * The OpenID Connect provider (DESIGN §14): oidc-provider, configured so that ssoctl stays in charge.
 *
 * - Issuer = the public URL; discovery at /.well-known/openid-configuration, every other endpoint
 *   under /oidc/ (its default /auth/:uid resume route would shadow forward auth's /auth/request).
 * - It always sees the public URL as its origin (Host and scheme are set from --public-url before it
 *   runs), so discovery and the issuer agree behind any proxy and a Host header cannot change them.
 * - Login is ssoctl's own: an interaction goes to /login/oidc/<uid>, which finishes at once for a
 *   signed-in user and otherwise sends the browser through ssoctl's login page and back.
 * - The provider's session is subordinate to ssoctl's: a check on the login prompt asks again when
 *   the ssoctl session is gone or belongs to someone else, so a logout or revocation at ssoctl stops
 *   silent logins.
 * - Every authorization, code exchange, refresh and userinfo call passes the client's app rules
 *   (the access gate), asked afresh: a saved grant or a token is never a way around them.
 * - `prompt=login` and `max_age` ask for a new sign-in on ssoctl's form, whatever the session.
 * - Its errors are ssoctl's error page; a failure of ours is a 503, never a 500.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { KoaContextWithOIDC, Configuration, Provider as ProviderType, UnknownObject, FindAccount } from "oidc-provider";
import { clearCookieHeader } from "../../cookie.js";
import type { AccessSubject, ServerContext } from "../../server/context.js";
import { HttpError } from "../../server/http-error.js";
import { switchUserHref } from "../../server/access-gate.js";
import { sendLoginForm } from "../../server/login-routes.js";
import { requestUrl } from "../../server/request.js";
import { FRESH_PARAM } from "../cas/params.js";
import { freshSignInMark, freshSignInSince } from "../cas/fresh-sign-in.js";
import type { OidcClient } from "../../store/store.js";
import { adapterFactory } from "./adapter.js";
import { clientSecretMatches } from "./clients.js";
import { ensureOidcKeys, parseKeySet, providerJwks, type OidcKeyStorage } from "./keys.js";

/** Where the provider's endpoints live; the route table in src/server/app.ts sends these here. */
export const OIDC_PREFIX = "/oidc/";
export const DISCOVERY_PATH = "/.well-known/openid-configuration";
export const INTERACTION_PREFIX = "/login/oidc/";

type OidcModule = typeof import("oidc-provider");
/** What a middleware of the provider's Koa app gets, before oidc-provider has added its own context. */
type KoaContext = Parameters<Parameters<ProviderType["use"]>[0]>[0];

/** Whether a user may use a client: its app's access rules. */
export type ClientAccess = { allowed: true } | { allowed: false; kind: "forbidden" | "deny" | "second_factor"; reason: string };
export type ClientAccessCheck = (ctx: ServerContext, who: AccessSubject, client: OidcClient) => Promise<ClientAccess>;

/**
 * The client's app rules, asked of the one decision (src/access) as a GET of the app's root: the
 * app as a whole. A client registered without an app admits every signed-in user.
 */
export const appRules: ClientAccessCheck = async (ctx, who, client) => {
  if (client.appOrigin === null) return { allowed: true };
  const target = `${client.appOrigin}/`;
  // Loads the apps and rules as of now, when anything changed.
  await ctx.checkTarget(target);
  const access = ctx.decideAccess(who, "GET", target);
  if (access.verdict === "allow") return { allowed: true };
  const kind = access.verdict === "deny" ? "deny" : access.verdict === "second_factor" ? "second_factor" : "forbidden";
  return { allowed: false, kind, reason: access.reason ?? access.verdict };
};

export class OidcEndpoint {
  private provider!: ProviderType;
  private callback!: (req: IncomingMessage, res: ServerResponse) => void;
  private keysText = "";
  private keysStamp = "";
  private cookieSecret = "";

  private constructor(
    private readonly oidc: OidcModule,
    private readonly ctx: ServerContext,
    private readonly storage: OidcKeyStorage,
    private readonly access: ClientAccessCheck,
  ) {}

  /** Loads oidc-provider (only now: it prints its Node 20 warning when imported) and the keys, making them when missing. */
  static async start(ctx: ServerContext, storage: OidcKeyStorage, access: ClientAccessCheck = appRules): Promise<OidcEndpoint> {
    const oidc = await importProvider();
    const endpoint = new OidcEndpoint(oidc, ctx, storage, access);
    await ensureOidcKeys(storage, ctx.now());
    await endpoint.refresh(true);
    return endpoint;
  }

  /** Rebuilds the provider when its signing keys or ssoctl's key (which signs its cookies) changed. */
  async refresh(force = false): Promise<void> {
    const stamp = this.storage.stamp();
    const cookieSecret = this.ctx.keyring.secrets.join(" ");
    if (!force && stamp === this.keysStamp && cookieSecret === this.cookieSecret) return;
    const text = await this.storage.read();
    if (text === null) throw new Error(`${this.storage.origin} disappeared`);
    this.keysStamp = stamp;
    if (!force && text === this.keysText && cookieSecret === this.cookieSecret) return;
    const set = parseKeySet(text, this.storage.origin);
    this.provider = this.build(providerJwks(set, this.ctx.now()));
    this.callback = this.provider.callback() as unknown as (req: IncomingMessage, res: ServerResponse) => void;
    this.keysText = text;
    this.cookieSecret = cookieSecret;
  }

  /** /oidc/… and discovery: hands the request to oidc-provider, as if it came to the public URL. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const publicUrl = new URL(this.ctx.config.publicUrl);
    // A proxy serving us under a path prefix has stripped it; the provider builds its URLs from this.
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = publicUrl.pathname.replace(/\/+$/, "") + (req.url ?? "/");
    req.headers["x-forwarded-host"] = publicUrl.host;
    req.headers["x-forwarded-proto"] = publicUrl.protocol.slice(0, -1);
    req.headers["x-forwarded-for"] = this.ctx.clientAddress(req);
    this.callback(req, res);
  }

  /** GET /login/oidc/<uid>: the provider needs the user. */
  async interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { ctx, provider } = this;
    let details: Awaited<ReturnType<ProviderType["interactionDetails"]>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (error) {
      if (error instanceof this.oidc.errors.SessionNotFound) throw expiredInteraction();
      throw error;
    }
    const uid = details.uid;
    if (req.url !== `${INTERACTION_PREFIX}${uid}` && !req.url?.startsWith(`${INTERACTION_PREFIX}${uid}?`)) throw expiredInteraction();
    const now = ctx.now();
    const login = await ctx.sessions.resolve(ctx.tokenOf(req), now);
    const here = ctx.url(`${INTERACTION_PREFIX}${uid}`);
    if (asksReauthentication(details.prompt.reasons)) {
      // prompt=login, or max_age has passed: the sign-in form again, whatever the session, and only
      // a sign-in made through it counts (the mark CAS renew uses: its time, under the signing key).
      const since = freshSignInSince(requestUrl(req).searchParams.get(FRESH_PARAM), here, ctx.keyring.secrets, now);
      if (login === null || since === null || login.claims.issuedAt < since) {
        await sendLoginForm(ctx, req, res, `${here}?${FRESH_PARAM}=${encodeURIComponent(freshSignInMark(ctx.keyring.current, here, now))}`);
        return;
      }
    }
    if (login === null) {
      // ssoctl's own login page (its throttling, CSRF and second factor), then back here.
      res.writeHead(303, { Location: ctx.url(`/login?rd=${encodeURIComponent(here)}`), "Cache-Control": "no-store", "Content-Length": "0" });
      res.end();
      return;
    }
    const clientId = String(details.params.client_id ?? "");
    const client = await ctx.store.getOidcClient(clientId);
    if (client === null) throw expiredInteraction();
    const verdict = await this.access(ctx, login, client);
    if (!verdict.allowed) {
      await this.refused({ username: login.user.username, client, reason: verdict.reason, grantId: details.grantId, addr: ctx.clientAddress(req) });
      // access_denied goes back to the client (its link); the ssoctl 403 page explains first.
      const back = await provider.interactionResult(req, res, { error: "access_denied", error_description: "the user may not use this application" }, { mergeWithLastSubmission: false });
      await ctx.sendPage(res, 403, "forbidden", verdict.kind === "deny" ? "Closed" : "Access denied", {
        kind: verdict.kind,
        username: login.user.username,
        appName: client.name,
        switchHref: verdict.kind === "deny" ? null : switchUserHref(ctx, here),
        backHref: back,
        backText: `Back to ${client.name}`,
      });
      return;
    }
    const sub = await subjectOf(ctx, login.user.username);
    if (sub === null) throw expiredInteraction();
    const grantId = await this.grantFor(details, sub, clientId);
    const amr = (login.claims as { amr?: unknown }).amr;
    const result = {
      login: { accountId: sub, amr: Array.isArray(amr) && amr.length > 0 ? (amr as string[]) : ["pwd"], ts: login.claims.issuedAt, remember: true },
      consent: { grantId },
    };
    await ctx.audit.record("oidc.login", { username: login.user.username, client: client.name }, ctx.now());
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  /** The client an interaction URL (/login/oidc/<uid> on the public URL) is for, to name it on the login page. */
  async nameInteraction(url: string): Promise<{ name: string; origin: string } | null> {
    const prefix = this.ctx.url(INTERACTION_PREFIX);
    if (!url.startsWith(prefix)) return null;
    const uid = url.slice(prefix.length);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(uid)) return null;
    const interaction = await this.provider.Interaction.find(uid);
    const clientId = interaction?.params?.client_id;
    const client = typeof clientId === "string" ? await this.ctx.store.getOidcClient(clientId) : null;
    return client === null ? null : { name: client.name, origin: new URL(client.redirectUris[0]!).origin };
  }

  /**
   * A refusal by the client's app rules: audited, and the grant the user holds for the client ends
   * (with its refresh and access tokens), so nothing issued before the change keeps working.
   */
  private async refused(refusal: { username: string; client: OidcClient; reason: string; grantId: string | undefined; addr?: string; via?: string }): Promise<void> {
    const { ctx } = this;
    if (refusal.grantId !== undefined) {
      await ctx.store.deleteOidcGrant(refusal.grantId);
      await ctx.store.deleteOidcRecord("Grant", refusal.grantId);
    }
    await ctx.audit.record(
      "access.denied",
      { username: refusal.username, app: refusal.client.appOrigin ?? undefined, client: refusal.client.name, reason: refusal.reason, via: refusal.via ?? "oidc", addr: refusal.addr },
      ctx.now(),
    );
  }

  /** First-party clients get no consent page: whatever OpenID scopes and claims they ask for is granted. */
  private async grantFor(details: { grantId?: string | undefined; params: UnknownObject; prompt: { details: UnknownObject } }, sub: string, clientId: string): Promise<string> {
    const { Grant } = this.provider;
    let grant = details.grantId === undefined ? undefined : await Grant.find(details.grantId);
    if (grant === undefined || grant.accountId !== sub) grant = new Grant({ accountId: sub, clientId });
    const scope = typeof details.params.scope === "string" ? details.params.scope : "openid";
    grant.addOIDCScope(scope);
    const missingClaims = details.prompt.details.missingOIDCClaims;
    if (Array.isArray(missingClaims)) grant.addOIDCClaims(missingClaims as string[]);
    return grant.save();
  }

  private build(jwks: Array<Record<string, unknown>>): ProviderType {
    const { ctx } = this;
    const { Provider, interactionPolicy } = this.oidc;
    const ttl = ctx.config.sessionTtlSeconds;
    const policy = interactionPolicy.base();
    policy.get("login")!.checks.add(
      new interactionPolicy.Check("ssoctl_session", "no ssoctl session, or another user's", "login_required", async (kctx: KoaContextWithOIDC) => {
        const login = await ctx.sessions.resolve(ctx.tokenOf(kctx.req), ctx.now());
        if (login === null) return interactionPolicy.Check.REQUEST_PROMPT;
        const sub = await subjectOf(ctx, login.user.username);
        return sub === kctx.oidc.session?.accountId ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
      }),
      0,
    );
    // Not a check at all: the first thing every authorization request runs after oidc-provider has
    // read its scope, where first-party clients keep offline_access (see keepOfflineAccess).
    policy.get("login")!.checks.add(
      new interactionPolicy.Check("ssoctl_offline_access", "offline_access for a first-party client", (kctx: KoaContextWithOIDC) => {
        keepOfflineAccess(kctx);
        return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      }),
      0,
    );
    // Every authorization request passes the client's app rules, also one a saved grant would answer
    // without an interaction: a refusal is access_denied at the client (after ssoctl's 403 page, or
    // at once for prompt=none).
    policy.get("login")!.checks.add(
      new interactionPolicy.Check("ssoctl_access", "the user may not use this application", "access_denied", async (kctx: KoaContextWithOIDC) => {
        const login = await ctx.sessions.resolve(ctx.tokenOf(kctx.req), ctx.now());
        const client = kctx.oidc.client === undefined ? null : await ctx.store.getOidcClient(kctx.oidc.client.clientId);
        // Nobody signed in (the check above asks for a sign-in) or no such client: nothing to decide yet.
        if (login === null || client === null) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const verdict = await this.access(ctx, login, client);
        if (verdict.allowed) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        // The interaction page audits and ends the grant when it shows the refusal; prompt=none has no page.
        if (kctx.oidc.prompts.has("none")) {
          await this.refused({ username: login.user.username, client, reason: verdict.reason, grantId: kctx.oidc.session?.grantIdFor(client.clientId), addr: ctx.clientAddress(kctx.req) });
        }
        return interactionPolicy.Check.REQUEST_PROMPT;
      }),
      2,
    );

    // Called for the session at authorization, and with the code, refresh token or access token at
    // the token and userinfo endpoints: there the client's app rules are asked again, for the user as
    // the database has them now and the factors the token records. Undefined is oidc-provider's
    // refusal: invalid_grant at the token endpoint, 401 invalid_token at userinfo.
    const findAccount: FindAccount = async (_kctx, sub, token) => {
      const username = await ctx.store.usernameForSubject(sub);
      const user = username === null ? null : await ctx.store.getUser(username);
      if (user === null || user.disabled) return undefined;
      if (token !== undefined) {
        const client = await ctx.store.getOidcClient(token.clientId ?? "");
        if (client === null) return undefined;
        const verdict = await this.access(ctx, { user, claims: { amr: amrOf(token) } }, client);
        if (!verdict.allowed) {
          await this.refused({ username: user.username, client, reason: verdict.reason, grantId: token.grantId, via: `oidc ${token.kind}` });
          return undefined;
        }
      }
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          name: user.name === "" ? user.username : user.name,
          preferred_username: user.username,
          // Only an administrator sets a user's address (no self-service change): it is verified by them.
          ...(user.email === "" ? {} : { email: user.email, email_verified: true }),
          groups: user.groups,
        }),
      };
    };

    const configuration: Configuration = {
      adapter: adapterFactory(ctx.store, () => ctx.now(), () => new this.oidc.errors.InvalidGrant("authorization code or refresh token already used")),
      findAccount,
      clients: [],
      jwks: { keys: jwks as never },
      cookies: {
        // Derived from ssoctl's secret key: shared by every login server, rotated with it.
        keys: ctx.keyring.secrets.map((secret) => createHmac("sha256", secret).update("ssoctl oidc-provider cookies").digest("base64url")),
        names: { session: `${ctx.config.cookieName}_oidc`, interaction: `${ctx.config.cookieName}_oidc_interaction`, resume: `${ctx.config.cookieName}_oidc_resume` },
        long: { httpOnly: true, sameSite: "lax", signed: true },
        short: { httpOnly: true, sameSite: "lax", signed: true },
      },
      scopes: ["openid", "offline_access", "profile", "email", "groups"],
      // amr and auth_time belong to the openid scope here, so every ID token carries them (how the
      // user signed in, and when); oidc-provider otherwise adds them only when a client asks.
      claims: { acr: null, amr: null, auth_time: null, iss: null, sid: null, openid: ["sub", "amr", "auth_time"], profile: ["name", "preferred_username"], email: ["email", "email_verified"], groups: ["groups"] },
      // The granted scopes' claims go into the ID token too, not only userinfo: apps such as
      // Nextcloud's user_oidc provision users from the ID token alone.
      conformIdTokenClaims: false,
      // Access tokens are opaque; `amr` kept with one lets userinfo ask the app rules with the
      // factors of the sign-in it came from (codes and refresh tokens carry it themselves).
      extraTokenClaims: async (kctx) => {
        const source = kctx.oidc.entities.RefreshToken ?? kctx.oidc.entities.AuthorizationCode;
        return source?.amr === undefined ? undefined : { amr: source.amr };
      },
      responseTypes: ["code"],
      pkce: { required: (_kctx, client) => client.clientAuthMethod === "none" },
      enabledJWA: {
        idTokenSigningAlgValues: ["RS256", "ES256"],
        userinfoSigningAlgValues: ["RS256", "ES256"],
        clientAuthSigningAlgValues: ["RS256", "ES256"],
        requestObjectSigningAlgValues: ["RS256", "ES256"],
        authorizationSigningAlgValues: ["RS256", "ES256"],
        introspectionSigningAlgValues: ["RS256", "ES256"],
      },
      clientAuthMethods: ["client_secret_basic", "client_secret_post", "none"],
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: false },
        // A client revokes only its own tokens; another client's is refused with an error (RFC 7009
        // §2.1), not the silent 200 of oidc-provider's default rule.
        revocation: {
          enabled: true,
          allowedPolicy: async (_kctx, client, token) => {
            if (token.clientId !== client.clientId) throw new this.oidc.errors.UnauthorizedClient("the token was issued to another client");
            return true;
          },
        },
        userinfo: { enabled: true },
        claimsParameter: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: async (kctx) => this.renderLogoutConfirm(kctx),
          postLogoutSuccessSource: async (kctx) => {
            kctx.type = "html";
            kctx.body = ctx.pages.render("logout", "Signed out", { loginHref: ctx.url("/login") }, { basePath: basePathOf(ctx) });
            kctx.set(await ctx.pageHeaders());
          },
        },
      },
      interactions: {
        policy,
        url: async (_kctx, interaction) => ctx.url(`${INTERACTION_PREFIX}${interaction.uid}`),
      },
      loadExistingGrant: async (kctx) => {
        const grantId = kctx.oidc.result?.consent?.grantId ?? (kctx.oidc.client === undefined ? undefined : kctx.oidc.session?.grantIdFor(kctx.oidc.client.clientId));
        return grantId === undefined ? undefined : kctx.oidc.provider.Grant.find(grantId);
      },
      clientBasedCORS: (_kctx, origin, client) => client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
      renderError: async (kctx, out) => this.renderError(kctx, out as { error: string; error_description?: string }),
      routes: {
        authorization: "/oidc/auth",
        backchannel_authentication: "/oidc/backchannel",
        code_verification: "/oidc/device",
        challenge: "/oidc/challenge",
        device_authorization: "/oidc/device/auth",
        end_session: "/oidc/session/end",
        introspection: "/oidc/token/introspection",
        jwks: "/oidc/jwks",
        pushed_authorization_request: "/oidc/request",
        registration: "/oidc/reg",
        revocation: "/oidc/token/revocation",
        token: "/oidc/token",
        userinfo: "/oidc/me",
        credential: "/oidc/credential",
      } as Configuration["routes"],
      // Explicit lifetimes, tied to ssoctl's session TTL (oidc-provider prints notices for defaults).
      ttl: {
        AccessToken: Math.min(3600, ttl),
        AuthorizationCode: 60,
        ClientCredentials: 600,
        DeviceCode: 600,
        BackchannelAuthenticationRequest: 600,
        Grant: ttl,
        IdToken: Math.min(3600, ttl),
        Interaction: 900,
        RefreshToken: ttl,
        Session: ttl,
      },
      expiresWithSession: async () => true,
      issueRefreshToken: async (_kctx, client, code) => client.grantTypeAllowed("refresh_token") && code.scopes.has("offline_access"),
      pairwiseIdentifier: async (_kctx, accountId) => accountId,
    };
    const provider = new Provider(ctx.config.publicUrl, configuration);
    // The public URL's host and scheme come from handle(), never from the client.
    provider.proxy = true;
    // The stored value is the secret's SHA-256; compare the hash of what the client presents.
    const Client = provider.Client as unknown as { prototype: { compareClientSecret(this: { clientSecret?: string }, actual: string): Promise<boolean> } };
    Client.prototype.compareClientSecret = async function (this: { clientSecret?: string }, actual: string) {
      return clientSecretMatches(this.clientSecret, actual);
    };
    // Registered first, so it is the outermost: whatever fails below becomes its answer.
    provider.use(async (kctx, next) => {
      try {
        await next();
      } catch (error) {
        // Past oidc-provider's own error handling (its session middleware, a page that failed to render).
        logOidcError(error as Error);
        kctx.status = 500;
      }
      if (kctx.status >= 500) await this.unavailable(kctx);
      this.finishResponse(kctx);
    });
    provider.use(async (kctx, next) => {
      await next();
      // A confirmed sign-out at the provider ends the ssoctl session too (one logout for every protocol).
      if (kctx.oidc?.route === "end_session_confirm" && kctx.oidc.params?.logout && kctx.status === 303) {
        const ended = await ctx.sessions.end(ctx.tokenOf(kctx.req), ctx.now());
        if (ended !== null) await ctx.audit.record("logout", { username: ended.username, session: ended.sessionId, via: "oidc" }, ctx.now());
        kctx.append("Set-Cookie", clearCookieHeader(ctx.cookie));
      }
    });
    provider.on("server_error", (_kctx: unknown, error: Error) => logOidcError(error));
    return provider;
  }

  /**
   * A failure of ours (the database unreachable, mostly) is a 503 with Retry-After at every endpoint:
   * OAuth's `temporarily_unavailable` as JSON for a client, the "temporarily unavailable" page for a
   * browser. The details went to the log (a stack only with SSOCTL_DEBUG=1), never to the client.
   */
  private async unavailable(kctx: KoaContext): Promise<void> {
    const { ctx } = this;
    const wantsJson = typeof kctx.body === "object" && kctx.body !== null && !Buffer.isBuffer(kctx.body) ? true : kctx.accepts("json", "html") !== "html";
    kctx.status = 503;
    kctx.set("Retry-After", "5");
    kctx.set("Cache-Control", "no-store");
    if (wantsJson) {
      kctx.body = { error: "temporarily_unavailable", error_description: "the login server cannot complete the request now; try again shortly" };
      return;
    }
    const heading = "Temporarily unavailable";
    try {
      kctx.body = ctx.pages.render("error", heading, { heading, message: "The login server could not complete the request. Try again in a moment.", details: null, status: 503 }, { basePath: basePathOf(ctx) });
      kctx.type = "html";
      kctx.set(await ctx.pageHeaders({ orLast: true }));
    } catch {
      kctx.type = "text";
      kctx.body = "The login server is temporarily unavailable. Try again in a moment.\n";
    }
  }

  /** What RFC 6749 and RFC 7009 ask of the token and revocation answers beyond oidc-provider's. */
  private finishResponse(kctx: KoaContext): void {
    const path = kctx.path;
    // RFC 6749 §5.1: Pragma for HTTP/1.0 caches beside Cache-Control: no-store.
    if (path === "/oidc/token" || path === "/oidc/me") kctx.set("Pragma", "no-cache");
    // An empty 200 is what RFC 7009 says; `{}` is that for clients that parse every answer as JSON.
    if (path === "/oidc/token/revocation" && kctx.status === 200 && (kctx.body === "" || kctx.body === undefined || kctx.body === null)) {
      kctx.body = {};
    }
  }

  private async renderLogoutConfirm(kctx: KoaContextWithOIDC): Promise<void> {
    const { ctx } = this;
    const state = kctx.oidc.session?.state as { secret?: string; postLogoutRedirectUri?: string } | undefined;
    const headers = { ...(await ctx.pageHeaders()) };
    const back = state?.postLogoutRedirectUri;
    // Chromium applies form-action to the redirect after the post: allow the registered post-logout URI's origin.
    if (back !== undefined) headers["Content-Security-Policy"] = headers["Content-Security-Policy"]!.replace("form-action 'self'", `form-action 'self' ${new URL(back).origin}`);
    kctx.type = "html";
    kctx.body = ctx.pages.render("oidc-logout", "Sign out", {
      action: kctx.oidc.urlFor("end_session_confirm"),
      xsrf: state?.secret ?? "",
      clientName: kctx.oidc.client?.clientName ?? null,
    }, { basePath: basePathOf(ctx) });
    kctx.set(headers);
  }

  private async renderError(kctx: KoaContextWithOIDC, out: { error: string; error_description?: string }): Promise<void> {
    const { ctx } = this;
    let status = kctx.status;
    let heading = "The sign-in request was refused";
    let message = "The application sent a request this login server cannot accept. Go back to the application and try again; if it keeps happening, tell its administrator.";
    if (status >= 500) {
      status = 503;
      heading = "Temporarily unavailable";
      message = "The login server could not complete the request. Try again in a moment.";
      kctx.set("Retry-After", "5");
    } else if (out.error === "invalid_client") {
      heading = "This application is not registered";
      message = "This login server does not know the application that sent you here. An administrator can register it with `ssoctl client add`.";
    } else if (out.error === "invalid_redirect_uri") {
      heading = "This application is not registered for that address";
      message = "The application asked to be sent back to an address it has not registered, so the login server does not send you there.";
    } else if (out.error === "invalid_request" && /session|interaction|cookie/i.test(out.error_description ?? "")) {
      heading = "This sign-in has expired";
      message = "Go back to the application and start again.";
    }
    kctx.status = status;
    kctx.type = "html";
    kctx.body = ctx.pages.render("error", heading, {
      heading,
      message,
      details: status >= 500 ? null : `${out.error}${out.error_description === undefined ? "" : `: ${out.error_description}`}`,
      status,
    }, { basePath: basePathOf(ctx) });
    kctx.set(await ctx.pageHeaders({ orLast: true }));
  }
}

/**
 * Imports oidc-provider. On Node 20 it prints, once, `oidc-provider WARNING: Unsupported runtime…`
 * through console.warn; it goes to stderr as one plain line like ssoctl's own (README says why it
 * is harmless), where a test run's output capture also sees it.
 */
async function importProvider(): Promise<OidcModule> {
  const warn = console.warn;
  console.warn = (...args: unknown[]): void => {
    const line = args.map(String).join(" ");
    if (line.includes("oidc-provider WARNING")) process.stderr.write(line.replace(/\x1b\[[0-9;]*m/g, "") + "\n");
    else warn(...args);
  };
  try {
    return await import("oidc-provider");
  } finally {
    console.warn = warn;
  }
}

/**
 * The login prompt's reasons that ask for the user to sign in again: `prompt=login`, and `max_age`
 * past (oidc-provider answers `login_required` itself when prompt=none comes with either).
 */
function asksReauthentication(reasons: readonly string[]): boolean {
  return reasons.includes("login_prompt") || reasons.includes("max_age");
}

/** The user's opaque subject, made on first use: random, so it says nothing and is never reused. */
async function subjectOf(ctx: ServerContext, username: string): Promise<string | null> {
  return ctx.store.oidcSubject(username, randomBytes(16).toString("base64url"));
}

function basePathOf(ctx: ServerContext): string {
  return new URL(ctx.config.publicUrl).pathname.replace(/\/+$/, "");
}

function expiredInteraction(): HttpError {
  return new HttpError(400, {
    heading: "This sign-in has expired",
    message: "The sign-in request is no longer valid (it expired, was already used, or was opened in another browser). Go back to the application and start again.",
  });
}

function logOidcError(error: Error): void {
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), event: "error", what: "oidc provider", error: error?.message ?? String(error), stack: process.env.SSOCTL_DEBUG === "1" ? error?.stack : undefined }) + "\n",
  );
}

/** How the sign-in behind a code, refresh token or access token was made (`amr`); a password when it does not say. */
function amrOf(token: object): string[] {
  const { amr: own, extra } = token as { amr?: unknown; extra?: UnknownObject };
  const amr = own ?? extra?.amr;
  return Array.isArray(amr) && amr.length > 0 && amr.every((m) => typeof m === "string") ? (amr as string[]) : ["pwd"];
}

/**
 * Every client here is first-party (registered by the administrator): one that asks for
 * offline_access gets its refresh token without sending prompt=consent, which oidc-provider would
 * otherwise require (and Grafana, Gitea or Nextcloud never send). oidc-provider has dropped the
 * scope from the parameters by now; this puts it back when the request asked for it.
 */
function keepOfflineAccess(kctx: KoaContextWithOIDC): void {
  if (kctx.oidc.route !== "authorization" || kctx.oidc.client?.grantTypeAllowed("refresh_token") !== true) return;
  const raw = kctx.method === "POST" ? kctx.oidc.body?.scope : kctx.query.scope;
  const asked = typeof raw === "string" && raw.split(" ").includes("offline_access");
  const scope = kctx.oidc.params?.scope;
  if (asked && typeof scope === "string" && !scope.split(" ").includes("offline_access")) kctx.oidc.params!.scope = `${scope} offline_access`;
}
