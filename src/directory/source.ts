/**
 * A directory (OpenLDAP, Active Directory) as a source of users: find the user with the service
 * account, then bind as them with the typed password. Searches share a few service-bound
 * connections; each password check opens its own connection (a bind changes who it is).
 * Every outcome is data, and "the directory cannot be reached" is one of them, never a throw.
 */
import * as fs from "node:fs";
import { Client, InvalidCredentialsError, type Entry } from "ldapts";
import { fillFilter } from "./escape.js";

export interface DirectoryOptions {
  /** A name for messages, `doctor` and `directory test`. */
  name: string;
  /** `ldap://` or `ldaps://`; several are tried in order. */
  url: string | string[];
  starttls?: boolean | undefined;
  /** PEM file with the CA that signed the directory's certificate. */
  caFile?: string | undefined;
  bindDn: string;
  bindPassword: string;
  userBase: string;
  /** `(uid={username})`, or `(sAMAccountName={username})` for Active Directory. */
  userFilter?: string | undefined;
  /** The attribute holding the username as ssoctl shows it (default: uid, or sAMAccountName when the filter names it). */
  usernameAttribute?: string | undefined;
  nameAttribute?: string | undefined;
  emailAttribute?: string | undefined;
  /** Groups from this attribute of the user (DNs; the group is its first RDN's value). */
  groupAttribute?: string | undefined;
  /** Or: groups found under this base with `groupFilter` (`(member={dn})`). */
  groupBase?: string | undefined;
  groupFilter?: string | undefined;
  groupNameAttribute?: string | undefined;
  timeoutMs?: number | undefined;
  poolSize?: number | undefined;
}

export interface DirectoryUser {
  username: string;
  dn: string;
  name: string;
  email: string;
  groups: string[];
  /** Active Directory's ACCOUNTDISABLE bit (userAccountControl & 2). */
  disabled: boolean;
}

export type Lookup = { kind: "found"; user: DirectoryUser } | { kind: "not_found" } | { kind: "unreachable"; error: string };

export type Authentication =
  | { kind: "ok"; user: DirectoryUser }
  | { kind: "invalid"; reason: "unknown_user" | "bad_password" | "disabled" }
  | { kind: "unreachable"; error: string };

function first(entry: Entry, attribute: string): string {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined ? "" : Buffer.isBuffer(one) ? one.toString("utf8") : String(one);
}

function all(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const value = key === undefined ? undefined : entry[key];
  // ldapts gives a single value as a string, several as an array.
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString("utf8") : String(v)));
}

/** `cn=admins,ou=groups,dc=example,dc=org` → `admins`. */
function groupNameOf(dn: string): string {
  const match = /^[^=]+=((?:\\.|[^,+\\])*)/.exec(dn);
  return (match?.[1] ?? dn).replace(/\\([0-9a-fA-F]{2}|.)/g, (_, e: string) => (e.length === 2 ? String.fromCharCode(parseInt(e, 16)) : e)).trim();
}

/** True when the error means no answer came (refused, timed out, TLS failed), not an LDAP refusal. */
function isUnreachable(error: unknown): boolean {
  return !(error instanceof InvalidCredentialsError) && typeof (error as { code?: unknown }).code !== "number";
}

export class DirectorySource {
  private readonly urls: string[];
  private readonly ca: Buffer | undefined;
  private readonly idle: Client[] = [];
  private busy = 0;
  private readonly waiting: Array<() => void> = [];
  /** What the last contact found: for /healthz and doctor. */
  lastError: string | null = null;

  constructor(readonly options: DirectoryOptions) {
    this.urls = Array.isArray(options.url) ? options.url : [options.url];
    if (this.urls.length === 0 || this.urls.some((u) => !/^ldaps?:\/\/[^/]+\/?$/.test(u))) throw new TypeError(`directory ${options.name}: url must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]`);
    this.ca = options.caFile === undefined ? undefined : fs.readFileSync(options.caFile);
  }

  private get timeoutMs(): number {
    return this.options.timeoutMs ?? 5000;
  }

  private get usernameAttribute(): string {
    return this.options.usernameAttribute ?? (/samaccountname/i.test(this.options.userFilter ?? "") ? "sAMAccountName" : "uid");
  }

  /** A connected client (StartTLS done), trying each URL in turn. */
  private async connect(): Promise<Client> {
    let lastError: unknown = new Error("no directory URL");
    for (const url of this.urls) {
      const tlsOptions = this.ca === undefined ? {} : { ca: [this.ca] };
      // ldapts speaks TLS from the first byte whenever tlsOptions are given: only for ldaps://.
      const client = new Client({ url, timeout: this.timeoutMs, connectTimeout: this.timeoutMs, ...(url.startsWith("ldaps:") ? { tlsOptions } : {}) });
      try {
        if (this.options.starttls === true) await client.startTLS(tlsOptions);
        return client;
      } catch (error) {
        lastError = error;
        await client.unbind().catch(() => {});
      }
    }
    throw lastError;
  }

  /** Runs `work` on a service-bound connection from the pool (at most `poolSize` at once). */
  private async withService<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const size = this.options.poolSize ?? 4;
    while (this.busy >= size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy += 1;
    let client = this.idle.pop();
    try {
      if (client === undefined) {
        client = await this.connect();
        await client.bind(this.options.bindDn, this.options.bindPassword);
      }
      const result = await work(client);
      this.idle.push(client);
      return result;
    } catch (error) {
      await client?.unbind().catch(() => {});
      throw error;
    } finally {
      this.busy -= 1;
      this.waiting.shift()?.();
    }
  }

  private async findEntry(client: Client, username: string): Promise<Entry | null> {
    const filter = fillFilter(this.options.userFilter ?? "(uid={username})", { username });
    const attributes = [this.usernameAttribute, this.options.nameAttribute ?? "cn", this.options.emailAttribute ?? "mail", "userAccountControl"];
    if (this.options.groupBase === undefined) attributes.push(this.options.groupAttribute ?? "memberOf");
    const { searchEntries } = await client.search(this.options.userBase, { scope: "sub", filter, attributes, sizeLimit: 2 });
    // Two entries for one name is a directory the filter does not fit: nobody signs in as either.
    return searchEntries.length === 1 ? searchEntries[0]! : null;
  }

  private async userOf(client: Client, entry: Entry): Promise<DirectoryUser> {
    let groups: string[];
    if (this.options.groupBase !== undefined) {
      const filter = fillFilter(this.options.groupFilter ?? "(member={dn})", { dn: entry.dn });
      const nameAttribute = this.options.groupNameAttribute ?? "cn";
      const { searchEntries } = await client.search(this.options.groupBase, { scope: "sub", filter, attributes: [nameAttribute] });
      groups = searchEntries.map((g) => first(g, nameAttribute)).filter((g) => g !== "");
    } else {
      groups = all(entry, this.options.groupAttribute ?? "memberOf").map(groupNameOf);
    }
    const control = Number(first(entry, "userAccountControl") || "0");
    return {
      username: first(entry, this.usernameAttribute),
      dn: entry.dn,
      name: first(entry, this.options.nameAttribute ?? "cn"),
      email: first(entry, this.options.emailAttribute ?? "mail"),
      groups: [...new Set(groups)].sort(),
      disabled: (control & 2) !== 0,
    };
  }

  /** The user as the directory has them now, without a password check. */
  async lookup(username: string): Promise<Lookup> {
    try {
      const found = await this.withService(async (client) => {
        const entry = await this.findEntry(client, username);
        return entry === null ? null : this.userOf(client, entry);
      });
      this.lastError = null;
      return found === null ? { kind: "not_found" } : { kind: "found", user: found };
    } catch (error) {
      return this.failed(error);
    }
  }

  /** Search with the service account, then bind as the user with `password`. */
  async authenticate(username: string, password: string): Promise<Authentication> {
    const found = await this.lookup(username);
    if (found.kind === "unreachable") return found;
    if (found.kind === "not_found") return { kind: "invalid", reason: "unknown_user" };
    // An empty password would be an "unauthenticated bind", which many directories answer with success.
    if (password === "") return { kind: "invalid", reason: "bad_password" };
    let client: Client | undefined;
    try {
      client = await this.connect();
      await client.bind(found.user.dn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError || !isUnreachable(error)) return { kind: "invalid", reason: "bad_password" };
      return this.failed(error);
    } finally {
      await client?.unbind().catch(() => {});
    }
    if (found.user.disabled) return { kind: "invalid", reason: "disabled" };
    return { kind: "ok", user: found.user };
  }

  /** Whether the directory answers the service account now (for /healthz and doctor). */
  async ping(): Promise<boolean> {
    try {
      await this.withService((client) => client.search("", { scope: "base", filter: "(objectClass=*)", attributes: ["1.1"] }));
      this.lastError = null;
      return true;
    } catch (error) {
      this.failed(error);
      return false;
    }
  }

  private failed(error: unknown): { kind: "unreachable"; error: string } {
    const message = (error as Error)?.message ?? String(error);
    this.lastError = message;
    return { kind: "unreachable", error: message };
  }

  async close(): Promise<void> {
    for (const client of this.idle.splice(0)) await client.unbind().catch(() => {});
  }
}

