/**
 * Relying parties (`ssoctl client add | list | remove`): what a client may be registered with,
 * its id and secret. The secret is 256 random bits shown once; the store keeps only its SHA-256
 * (a random secret of that size needs no slow hash, and the token endpoint must not wait on argon2).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SsoctlError } from "../../errors.js";
import { parseAppOrigin } from "../../origin.js";
import { printable } from "../../printable.js";
import { ConflictError, type OidcClient, type Store } from "../../store/store.js";

export interface NewClientRequest {
  name: string;
  redirectUris: string[];
  postLogoutUris: string[];
  app?: string | undefined;
  public: boolean;
  idTokenAlg?: string | undefined;
  /** `ssoctl apply`: keep the id a state file names (else one is made from the name). */
  clientId?: string | undefined;
  /** `ssoctl apply`: the hash of a secret the state file supplies (else a secret is made and returned once). */
  secretHash?: string | undefined;
}

/** The ids `client add` makes (name, "-", 16 hex digits) and any a state file may carry. */
export function checkClientId(clientId: string): void {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(clientId)) throw new SsoctlError(`client id "${printable(clientId)}" must be 1–100 letters, digits, ".", "_" or "-"`);
}

/** A secret a state file supplies: long enough that its SHA-256 needs no slow hash. */
export function checkSuppliedSecret(secret: string): void {
  if (Buffer.byteLength(secret, "utf8") < 32) throw new SsoctlError("a client secret must be at least 32 bytes (for example: openssl rand -base64 32)");
}

export function hashClientSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/** Constant-time: the hash of what the client sent against the stored hash. */
export function clientSecretMatches(storedHash: string | undefined, presented: unknown): boolean {
  if (typeof storedHash !== "string" || typeof presented !== "string" || presented.length > 1024) return false;
  const a = Buffer.from(hashClientSecret(presented), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A redirect or post-logout URI: absolute http(s), no fragment, no credentials; compared exactly later. */
export function checkClientUri(text: string, what: string): string {
  if (/[\x00-\x20\x7f\\]/.test(text) || text.length > 2000) throw new SsoctlError(`${what} "${printable(text)}" is not a URL (spaces, control characters and backslashes are not allowed)`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SsoctlError(`${what} "${printable(text)}" is not an absolute URL (for example https://app.example.com/callback)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new SsoctlError(`${what} "${printable(text)}" must be an http:// or https:// URL`);
  if (url.hash !== "" || text.includes("#")) throw new SsoctlError(`${what} "${printable(text)}" must not have a fragment (#…)`);
  if (url.username !== "" || url.password !== "") throw new SsoctlError(`${what} "${printable(text)}" must not contain a user name or password`);
  if ("problem" in parseAppOrigin(url.origin)) throw new SsoctlError(`${what} "${printable(text)}" does not have a valid host name`);
  return text;
}

export function checkClientName(name: string): void {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) {
    throw new SsoctlError(`client name "${printable(name)}" must be 1–64 letters, digits, ".", "_" or "-"`);
  }
}

/** Registers a client; returns it and, for a confidential client, the secret (shown once). */
export async function addClient(store: Store, request: NewClientRequest, now: number): Promise<{ client: OidcClient; secret: string | null }> {
  checkClientName(request.name);
  if (request.redirectUris.length === 0) throw new SsoctlError("give at least one --redirect-uri");
  const redirectUris = [...new Set(request.redirectUris.map((u) => checkClientUri(u, "--redirect-uri")))];
  const postLogoutUris = [...new Set(request.postLogoutUris.map((u) => checkClientUri(u, "--post-logout-uri")))];
  const alg = request.idTokenAlg ?? "RS256";
  if (alg !== "RS256" && alg !== "ES256") throw new SsoctlError(`--id-token-alg "${printable(alg)}" must be RS256 or ES256`);
  const apps = await store.listApps();
  let appOrigin: string | null = null;
  if (request.app !== undefined) {
    const parsed = parseAppOrigin(request.app);
    if ("problem" in parsed) throw new SsoctlError(`--app: ${parsed.problem}`);
    if (!apps.some((a) => a.origin === parsed.origin)) {
      throw new SsoctlError(`--app ${parsed.origin} is not a registered app; register it first with \`ssoctl app add ${parsed.origin}\``);
    }
    appOrigin = parsed.origin;
  } else {
    // The app a redirect URI belongs to, when it is registered: its rules apply without saying so twice.
    const origin = new URL(redirectUris[0]!).origin;
    appOrigin = apps.some((a) => a.origin === origin) ? origin : null;
  }
  if (request.clientId !== undefined) checkClientId(request.clientId);
  if (request.secretHash !== undefined && !/^[0-9a-f]{64}$/.test(request.secretHash)) throw new SsoctlError("a client secret hash is 64 lower-case hex digits (SHA-256)");
  const secret = request.public || request.secretHash !== undefined ? null : randomBytes(32).toString("base64url");
  const secretHash = request.public ? null : (request.secretHash ?? hashClientSecret(secret!));
  const clientId = request.clientId ?? `${request.name.toLowerCase()}-${randomBytes(8).toString("hex")}`;
  try {
    const client = await store.addOidcClient(
      { clientId, name: request.name, secretHash, redirectUris, postLogoutUris, appOrigin, idTokenAlg: alg },
      now,
    );
    await store.audit({ at: now, event: "client.added", detail: { client: request.name, clientId, public: request.public } });
    return { client, secret };
  } catch (error) {
    if (error instanceof ConflictError) throw new SsoctlError(error.message);
    throw error;
  }
}

export async function removeClient(store: Store, nameOrId: string, now: number): Promise<OidcClient> {
  const removed = await store.removeOidcClient(nameOrId);
  if (removed === null) throw new SsoctlError(`no client named "${printable(nameOrId)}"; see \`ssoctl client list\``);
  await store.audit({ at: now, event: "client.removed", detail: { client: removed.name, clientId: removed.clientId } });
  return removed;
}
