/**
 * SAML single logout from the login server: when an ssoctl session ends (the session-ended hook
 * CAS single logout also listens to), every SP that received an assertion in it is sent a signed
 * LogoutRequest for that NameID and SessionIndex, over the back channel (the server itself sends
 * the SP's HTTP-Redirect or HTTP-POST endpoint the request; Apache mod_auth_mellon finds the
 * session by NameID). Best effort, like CAS: a short timeout, no redirect followed, never awaited
 * by the user's logout, every attempt audited; only to endpoints from the SP's registered metadata.
 */
import { request } from "undici";
import type { AuditLog } from "../../audit.js";
import type { SamlLogin } from "../../store/saml.js";
import type { Store } from "../../store/store.js";
import { redirectUrl } from "./bindings.js";
import type { SamlKeySet } from "./keys.js";
import { logoutEndpoint, logoutRequestXml } from "./logout.js";
import { registeredSp } from "./sp.js";
import { signElement } from "./signature.js";

export const SAML_LOGOUT_TIMEOUT_MS = 3000;

export interface SamlSingleLogoutDeps {
  store: Store;
  audit: AuditLog;
  idpEntityId: string;
  keys(): Promise<SamlKeySet>;
  timeoutMs?: number;
}

const LOGOUT_REQUEST_XPATH = "/*[local-name()='LogoutRequest']";

export class SamlSingleLogout {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: SamlSingleLogoutDeps) {}

  sessionEnded(ended: { sessionId: string }, now: number): void {
    this.track(this.deps.store.saml.takeSamlLoginsOfSession(ended.sessionId).then((logins) => this.notifyAll(logins, now)));
  }

  /** Sessions ended elsewhere (the CLI, another server, expiry): run on a timer, each login to one server only. */
  async sweep(now: number): Promise<void> {
    await this.notifyAll(await this.deps.store.saml.takeSamlLoginsOfEndedSessions(now), now);
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private track(work: Promise<void>): void {
    const run = work.catch(() => {});
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async notifyAll(logins: SamlLogin[], now: number): Promise<void> {
    await Promise.all(logins.map((login) => this.notify(login, now)));
  }

  private async notify(login: SamlLogin, now: number): Promise<void> {
    const fields = { sp: login.entityId, session: login.sessionId };
    let registered;
    try {
      registered = await registeredSp(this.deps.store, login.entityId);
    } catch {
      registered = null;
    }
    const endpoint = registered === null ? null : logoutEndpoint(registered.metadata.singleLogout, { response: false });
    if (registered === null || endpoint === null) {
      await this.deps.audit.record("saml.single_logout", { ...fields, outcome: registered === null ? "skipped_unregistered" : "skipped_no_endpoint" }, now);
      return;
    }
    const keys = await this.deps.keys();
    const xml = logoutRequestXml({
      idpEntityId: this.deps.idpEntityId,
      spEntityId: login.entityId,
      destination: endpoint.url,
      nameId: { format: login.nameIdFormat, value: login.nameId },
      sessionIndex: login.sessionIndex,
      now,
    });
    const timeout = this.deps.timeoutMs ?? SAML_LOGOUT_TIMEOUT_MS;
    const limits = { headersTimeout: timeout, bodyTimeout: timeout, signal: AbortSignal.timeout(timeout) };
    try {
      const answer =
        endpoint.binding === "redirect"
          ? await request(redirectUrl(endpoint.url, "SAMLRequest", xml, null, keys.current.privateKey), { method: "GET", ...limits })
          : await request(endpoint.url, {
              method: "POST",
              headers: { "content-type": "application/x-www-form-urlencoded" },
              body: "SAMLRequest=" + encodeURIComponent(Buffer.from(signElement(xml, keys.current, { xpath: LOGOUT_REQUEST_XPATH, issuerXPath: `${LOGOUT_REQUEST_XPATH}/*[local-name()='Issuer']` })).toString("base64")),
              ...limits,
            });
      await answer.body.dump();
      await this.deps.audit.record("saml.single_logout", { ...fields, outcome: "sent", status: answer.statusCode }, now);
    } catch (error) {
      await this.deps.audit.record("saml.single_logout", { ...fields, outcome: "failed", error: (error as Error).message.slice(0, 200) }, now);
    }
  }
}
