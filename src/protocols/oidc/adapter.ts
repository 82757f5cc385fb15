/**
 * oidc-provider's persistence, through the store (either engine): one adapter per model name.
 * Clients come from `ssoctl client add` (the `oidc_clients` table), never from dynamic registration.
 */
import type { Adapter, AdapterPayload } from "oidc-provider";
import type { OidcClient, Store } from "../../store/store.js";

/** What oidc-provider is told about a registered client. */
export function clientMetadata(client: OidcClient): AdapterPayload {
  return {
    client_id: client.clientId,
    client_name: client.name,
    // The provider compares secrets through compareClientSecret, which we replace with a hash
    // check (see provider.ts); what it holds here is only the hash. No HS* algorithm is enabled,
    // so it is never used as a key.
    ...(client.secretHash === null ? { token_endpoint_auth_method: "none" } : { client_secret: client.secretHash, token_endpoint_auth_method: "client_secret_basic" }),
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutUris,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    id_token_signed_response_alg: client.idTokenAlg,
    application_type: "web",
  };
}

/**
 * The error a lost race to consume a code or a refresh token becomes: oidc-provider's InvalidGrant,
 * so the client reads `invalid_grant`.
 */
export type AlreadyConsumed = (model: string) => Error;

export function adapterFactory(store: Store, clock: () => number, alreadyConsumed: AlreadyConsumed): new (name: string) => Adapter {
  return class StoreAdapter implements Adapter {
    constructor(private readonly name: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.name === "Client") return; // no dynamic registration
      const accountId = typeof payload.accountId === "string" ? payload.accountId : undefined;
      await store.putOidcRecord(
        this.name,
        id,
        JSON.stringify(payload),
        { grantId: payload.grantId, uid: payload.uid, userCode: payload.userCode, accountId },
        expiresIn > 0 ? clock() + expiresIn : null,
      );
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.name === "Client") {
        const client = await store.getOidcClient(id);
        return client === null ? undefined : clientMetadata(client);
      }
      const record = await store.findOidcRecord(this.name, id, clock());
      return record === null ? undefined : withConsumed(record.payload, record.consumedAt);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const record = await store.findOidcRecordBy(this.name, "uid", uid, clock());
      return record === null ? undefined : withConsumed(record.payload, record.consumedAt);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const record = await store.findOidcRecordBy(this.name, "userCode", userCode, clock());
      return record === null ? undefined : withConsumed(record.payload, record.consumedAt);
    }

    /**
     * oidc-provider reads a code (or refresh token), sees it unused, then consumes it: two requests
     * can both see it unused. The store's consume is atomic, so exactly one wins; the other is
     * refused, and what the code issued (its grant, and every token of it) is revoked, as for a replay.
     */
    async consume(id: string): Promise<void> {
      if (await store.consumeOidcRecord(this.name, id, clock())) return;
      const record = await store.findOidcRecord(this.name, id, 0);
      const grantId = record === null ? undefined : (JSON.parse(record.payload) as AdapterPayload).grantId;
      if (typeof grantId === "string") {
        await store.deleteOidcGrant(grantId);
        await store.deleteOidcRecord("Grant", grantId);
      }
      throw alreadyConsumed(this.name);
    }

    async destroy(id: string): Promise<void> {
      await store.deleteOidcRecord(this.name, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await store.deleteOidcGrant(grantId);
    }
  };
}

function withConsumed(payload: string, consumedAt: number | null): AdapterPayload {
  const parsed = JSON.parse(payload) as AdapterPayload;
  return consumedAt === null ? parsed : { ...parsed, consumed: consumedAt };
}
