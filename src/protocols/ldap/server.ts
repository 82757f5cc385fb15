/**
 * The LDAP interface (DESIGN §19): a read-only LDAPv3 server over ssoctl's users and groups, for
 * apps that speak only LDAP. One `Connection` per client: frames are cut by BER length (never past
 * `maxMessageBytes`), answered one at a time in order, and anything malformed ends the connection
 * with a notice of disconnection. Unauthenticated connections are bounded in time and number.
 */
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import type { Store } from "../../store/store.js";
import type { LdapAccount } from "../../store/ldap.js";
import { BerError, frameLength } from "./ber.js";
import { bindConnection, type BindServices, type Identity } from "./binds.js";
import { normalizeDn, normalizeDnText, parseDn } from "./dn.js";
import { compareForm, matchesFilter } from "./filter.js";
import {
  decodeMessage,
  decodePagedControl,
  encodeEntry,
  encodeExtendedResult,
  encodeNoticeOfDisconnection,
  encodePagedControl,
  encodeResult,
  OID,
  peekMessageId,
  RESPONSE,
  RESULT,
  type Message,
  type Request,
} from "./messages.js";
import { DirectoryTree, Entry } from "./tree.js";

export interface ListenAddress {
  host: string;
  port: number;
}

export interface LdapInterfaceOptions {
  /** e.g. `dc=example,dc=org`; users are `uid=NAME,ou=people,BASE`, groups `cn=NAME,ou=groups,BASE`. */
  baseDn: string;
  /** Plain LDAP, with StartTLS when `tls` is given. */
  listen?: ListenAddress | undefined;
  /** LDAPS (TLS from the first byte); needs `tls`. */
  ldapsListen?: ListenAddress | undefined;
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined;
  /** Entries per search without paging (default 1000): past it the search ends with sizeLimitExceeded. */
  sizeLimit?: number | undefined;
  timeLimitSeconds?: number | undefined;
  maxConnections?: number | undefined;
  maxConnectionsPerAddress?: number | undefined;
  /** How long a connection may stay without a successful bind (default 10 s). */
  unauthenticatedSeconds?: number | undefined;
  idleSeconds?: number | undefined;
  maxMessageBytes?: number | undefined;
}

interface Limits {
  sizeLimit: number;
  timeLimitMs: number;
  maxConnections: number;
  maxPerAddress: number;
  unauthenticatedMs: number;
  idleMs: number;
  maxMessageBytes: number;
}

export interface LdapDeps extends BindServices {
  store: Store;
  clock: () => number;
  log?: (event: string, detail: Record<string, unknown>) => void;
}

/** Requests one connection may have waiting while one is answered: more is a flood, not a client. */
const MAX_QUEUED = 32;
/** Paged searches one connection may leave unfinished. */
const MAX_OPEN_PAGES = 4;

export class LdapInterface {
  private tree: DirectoryTree | null = null;
  private treeStamp = NaN;
  private building: Promise<DirectoryTree> | null = null;
  private readonly connections = new Set<Connection>();
  private readonly perAddress = new Map<string, number>();
  private readonly servers: net.Server[] = [];
  readonly baseNdn: string;
  readonly limits: Limits;
  readonly secureContext: tls.SecureContext | null;
  /** `ldap://127.0.0.1:PORT` and `ldaps://…`, once listening. */
  readonly urls: { ldap?: string; ldaps?: string } = {};

  private constructor(
    readonly deps: LdapDeps,
    readonly options: LdapInterfaceOptions,
  ) {
    this.baseNdn = normalizeDn(parseDn(options.baseDn));
    this.limits = {
      sizeLimit: options.sizeLimit ?? 1000,
      timeLimitMs: (options.timeLimitSeconds ?? 10) * 1000,
      maxConnections: options.maxConnections ?? 1000,
      maxPerAddress: options.maxConnectionsPerAddress ?? 100,
      unauthenticatedMs: (options.unauthenticatedSeconds ?? 10) * 1000,
      idleMs: (options.idleSeconds ?? 600) * 1000,
      maxMessageBytes: options.maxMessageBytes ?? 64 * 1024,
    };
    this.secureContext = options.tls === undefined ? null : tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key });
  }

  /** Checks the options (throws a TypeError naming the bad one) and starts listening. */
  static async start(deps: LdapDeps, options: LdapInterfaceOptions): Promise<LdapInterface> {
    checkLdapOptions(options);
    const ldap = new LdapInterface(deps, options);
    try {
      if (options.listen !== undefined) {
        const server = net.createServer((socket) => ldap.accept(socket, false));
        ldap.urls.ldap = `ldap://${await ldap.listenOn(server, options.listen)}`;
      }
      if (options.ldapsListen !== undefined) {
        const server = tls.createServer({ cert: options.tls!.cert, key: options.tls!.key, handshakeTimeout: ldap.limits.unauthenticatedMs }, (socket) => ldap.accept(socket, true));
        server.on("tlsClientError", () => {});
        ldap.urls.ldaps = `ldaps://${await ldap.listenOn(server, options.ldapsListen)}`;
      }
    } catch (error) {
      await ldap.close();
      throw error;
    }
    return ldap;
  }

  private async listenOn(server: net.Server, address: ListenAddress): Promise<string> {
    server.maxConnections = this.limits.maxConnections;
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(address.port, address.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const bound = server.address() as AddressInfo;
    return `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`;
  }

  private accept(socket: net.Socket, secure: boolean): void {
    socket.on("error", () => {});
    const addr = socket.remoteAddress ?? "";
    const count = this.perAddress.get(addr) ?? 0;
    if (this.connections.size >= this.limits.maxConnections || count >= this.limits.maxPerAddress) {
      socket.end(encodeNoticeOfDisconnection(RESULT.busy, "too many connections"));
      socket.destroySoon();
      return;
    }
    this.perAddress.set(addr, count + 1);
    const connection = new Connection(this, socket, addr, secure);
    this.connections.add(connection);
    socket.once("close", () => {
      this.connections.delete(connection);
      const left = (this.perAddress.get(addr) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(addr);
      else this.perAddress.set(addr, left);
    });
  }

  /** The entries, rebuilt when the store says users changed. */
  async currentTree(): Promise<DirectoryTree> {
    const stamp = this.deps.store.changeCounter();
    if (this.tree !== null && stamp === this.treeStamp) return this.tree;
    this.building ??= (async () => {
      try {
        const tree = new DirectoryTree(this.options.baseDn, await this.deps.store.listUsers());
        this.tree = tree;
        this.treeStamp = stamp;
        return tree;
      } finally {
        this.building = null;
      }
    })();
    return this.building;
  }

  log(event: string, detail: Record<string, unknown>): void {
    this.deps.log?.(event, detail);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** Throws a TypeError naming the first bad setting (a DN that is not one, a key that does not load). */
export function checkLdapOptions(options: LdapInterfaceOptions): void {
  try {
    parseDn(options.baseDn);
  } catch {
    throw new TypeError(`ldap base_dn "${options.baseDn}" is not a DN (for example dc=example,dc=org)`);
  }
  if (parseDn(options.baseDn).length === 0) throw new TypeError("ldap base_dn must not be empty (for example dc=example,dc=org)");
  if (options.listen === undefined && options.ldapsListen === undefined) throw new TypeError("ldap needs listen or ldaps_listen");
  if (options.ldapsListen !== undefined && options.tls === undefined) throw new TypeError("LDAPS needs a certificate and key (ldap tls_cert_file and tls_key_file)");
  for (const [name, value] of Object.entries({ sizeLimit: options.sizeLimit, timeLimitSeconds: options.timeLimitSeconds, maxConnections: options.maxConnections, maxConnectionsPerAddress: options.maxConnectionsPerAddress, unauthenticatedSeconds: options.unauthenticatedSeconds, idleSeconds: options.idleSeconds, maxMessageBytes: options.maxMessageBytes })) {
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) throw new TypeError(`ldap ${name} must be a positive number`);
  }
  if (options.tls !== undefined) {
    try {
      tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key });
    } catch (error) {
      throw new TypeError(`the LDAP TLS certificate and key do not load: ${(error as Error).message}`);
    }
  }
}

interface PagedSearch {
  entries: Entry[];
  offset: number;
  attributes: string[];
  typesOnly: boolean;
  /** Entries cut off by the client's own size limit. */
  truncated: boolean;
}

class Connection {
  private pending: Buffer = Buffer.alloc(0);
  private readonly queue: Buffer[] = [];
  private processing = false;
  private closed = false;
  private identity: Identity = { kind: "anonymous" };
  /** The last service account bound on this connection: a user's bind is a sign-in to its app. */
  private account: LdapAccount | null = null;
  private readonly pages = new Map<string, PagedSearch>();
  private unauthenticatedTimer: NodeJS.Timeout | null = null;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(
    private readonly ldap: LdapInterface,
    private socket: net.Socket,
    private readonly addr: string,
    private secure: boolean,
  ) {
    socket.on("data", this.onData);
    // Answers are several small writes (entries, then the result): Nagle's algorithm would hold the
    // last one back until the client's delayed ACK, some 40 ms per search.
    socket.setNoDelay(true);
    socket.setTimeout(ldap.limits.idleMs, () => this.destroy());
    this.startUnauthenticatedTimer();
  }

  private startUnauthenticatedTimer(): void {
    if (this.unauthenticatedTimer !== null) return;
    this.unauthenticatedTimer = setTimeout(() => {
      this.unauthenticatedTimer = null;
      // Time spent waiting for our own answer (a password check on a busy server) is not the client's.
      if (this.processing) this.startUnauthenticatedTimer();
      else this.disconnect(RESULT.unavailable, "no successful bind in time");
    }, this.ldap.limits.unauthenticatedMs);
    this.unauthenticatedTimer.unref();
  }

  destroy(): void {
    this.closed = true;
    if (this.unauthenticatedTimer !== null) clearTimeout(this.unauthenticatedTimer);
    this.socket.destroy();
  }

  /** Ends the connection with the notice RFC 4511 §4.4.1 describes. */
  private disconnect(code: number, message: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.unauthenticatedTimer !== null) clearTimeout(this.unauthenticatedTimer);
    this.socket.off("data", this.onData);
    this.socket.end(encodeNoticeOfDisconnection(code, message));
    this.socket.destroySoon();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      // Every LDAPMessage is a SEQUENCE: anything else (an HTTP request, TLS to the plain port) is refused at once.
      if (this.pending.length > 0 && this.pending[0] !== 0x30) {
        this.disconnect(RESULT.protocolError, "not an LDAP message");
        return;
      }
      let length: number | null;
      try {
        length = frameLength(this.pending, this.ldap.limits.maxMessageBytes);
      } catch (error) {
        this.disconnect(RESULT.protocolError, error instanceof BerError ? error.message : "malformed message");
        return;
      }
      if (length === null) return;
      this.queue.push(Buffer.from(this.pending.subarray(0, length)));
      this.pending = this.pending.subarray(length);
      if (this.queue.length > MAX_QUEUED) {
        this.disconnect(RESULT.busy, "too many requests waiting");
        return;
      }
      void this.pump();
    }
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!;
        let message: Message;
        try {
          message = decodeMessage(frame);
        } catch (error) {
          const id = peekMessageId(frame);
          this.ldap.log("ldap.protocol_error", { addr: this.addr, id, error: (error as Error).message });
          this.disconnect(RESULT.protocolError, error instanceof BerError ? error.message : "malformed message");
          return;
        }
        await this.answer(message);
      }
    } catch (error) {
      this.ldap.log("ldap.error", { addr: this.addr, error: (error as Error).message });
      this.disconnect(RESULT.other, "internal error");
    } finally {
      this.processing = false;
    }
  }

  private async write(data: Buffer): Promise<void> {
    if (this.closed) return;
    if (!this.socket.write(data)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off("drain", done);
          this.socket.off("close", done);
          resolve();
        };
        this.socket.on("drain", done);
        this.socket.on("close", done);
      });
    }
  }

  private async answer(message: Message): Promise<void> {
    const { id, request } = message;
    const unknownCritical = message.controls.find((c) => c.critical && !(request.op === "search" && c.type === OID.pagedResults));
    if (unknownCritical !== undefined && request.op !== "abandon" && request.op !== "unbind") {
      await this.write(encodeResult(id, responseTagOf(request), RESULT.unavailableCriticalExtension, `control ${unknownCritical.type} is not supported`));
      return;
    }
    switch (request.op) {
      case "bind":
        return this.bind(id, request);
      case "unbind":
        this.destroy();
        return;
      case "abandon":
        return;
      case "search":
        return this.search(message, request);
      case "compare":
        return this.compare(id, request);
      case "extended":
        return this.extended(id, request);
      case "write":
        await this.write(encodeResult(id, request.responseTag, RESULT.unwillingToPerform, "this directory is read-only; change users with ssoctl"));
        return;
    }
  }

  private async bind(id: number, request: Extract<Request, { op: "bind" }>): Promise<void> {
    this.identity = { kind: "anonymous" };
    this.pages.clear();
    if (request.version !== 3) {
      await this.write(encodeResult(id, RESPONSE.bind, RESULT.protocolError, "only LDAPv3 is supported"));
      return;
    }
    if (request.auth.kind === "sasl") {
      await this.write(encodeResult(id, RESPONSE.bind, RESULT.authMethodNotSupported, "only simple binds are supported"));
      return;
    }
    const result = await bindConnection(this.ldap.deps, this.ldap.baseNdn, { name: request.name, password: request.auth.password, account: this.account, clientAddr: this.addr }, this.ldap.deps.clock());
    if (!result.ok) {
      this.startUnauthenticatedTimer();
      await this.write(encodeResult(id, RESPONSE.bind, result.code, result.message));
      return;
    }
    this.identity = result.identity;
    if (result.identity.kind === "service") this.account = result.identity.account;
    if (result.identity.kind !== "anonymous" && this.unauthenticatedTimer !== null) {
      clearTimeout(this.unauthenticatedTimer);
      this.unauthenticatedTimer = null;
    }
    await this.write(encodeResult(id, RESPONSE.bind, RESULT.success));
  }

  /** What the bound identity may read: a service account everything, a user their own entry, nobody only the root DSE. */
  private visible(): ((entry: Entry) => boolean) | null {
    const identity = this.identity;
    if (identity.kind === "service") return () => true;
    if (identity.kind === "user") {
      const own = normalizeDnText(identity.dn);
      return (entry) => entry.ndn === own;
    }
    return null;
  }

  private rootDse(): Entry {
    const extensions = [OID.whoAmI, ...(this.ldap.secureContext !== null && !this.secure ? [OID.startTls] : [])];
    return new Entry(
      "",
      [
        { name: "objectClass", values: ["top"] },
        { name: "namingContexts", values: [this.ldap.options.baseDn] },
        { name: "supportedLDAPVersion", values: ["3"] },
        { name: "supportedControl", values: [OID.pagedResults] },
        { name: "supportedExtension", values: extensions },
        { name: "vendorName", values: ["ssoctl"] },
      ],
      null,
    );
  }

  private async search(message: Message, request: Extract<Request, { op: "search" }>): Promise<void> {
    const id = message.id;
    const done = (code: number, text = "", controls: Buffer[] = [], matchedDn = ""): Promise<void> =>
      this.write(encodeResult(id, RESPONSE.searchDone, code, text, { controls, matchedDn }));
    let baseNdn: string;
    try {
      baseNdn = normalizeDn(parseDn(request.base));
    } catch {
      return done(RESULT.invalidDnSyntax, "the search base is not a DN");
    }
    if (baseNdn === "" && request.scope === "base") {
      const root = this.rootDse();
      if (matchesFilter(request.filter, root)) await this.write(encodeEntry(id, "", selectAttributes(root, request.attributes, request.typesOnly)));
      return done(RESULT.success);
    }
    const visible = this.visible();
    if (visible === null) return done(RESULT.insufficientAccessRights, "bind first: anonymous clients may read only the root DSE");

    const paged = message.controls.find((c) => c.type === OID.pagedResults);
    let page: { size: number; cookie: Buffer } | null = null;
    if (paged !== undefined) {
      try {
        page = decodePagedControl(paged.value);
      } catch {
        return done(RESULT.protocolError, "malformed paged results control");
      }
    }
    if (page !== null && page.cookie.length > 0) {
      const key = page.cookie.toString("hex");
      const state = this.pages.get(key);
      if (state === undefined) return done(RESULT.unwillingToPerform, "unknown or expired paged results cookie");
      this.pages.delete(key);
      if (page.size === 0) return done(RESULT.success, "", [encodePagedControl(Buffer.alloc(0))]);
      return this.sendPage(id, state, page.size);
    }

    const tree = await this.ldap.currentTree();
    const base = baseNdn === "" ? tree.base : tree.find(baseNdn);
    if (base === undefined) return done(RESULT.noSuchObject, "no such entry", [], tree.nearest(baseNdn)?.dn ?? "");
    const scope = baseNdn === "" && request.scope === "one" ? "base" : request.scope;
    const clientLimit = request.sizeLimit === 0 ? Infinity : request.sizeLimit;
    const serverLimit = page === null ? this.ldap.limits.sizeLimit : Infinity;
    const limit = Math.min(clientLimit, serverLimit);
    const timeLimitMs = Math.min(request.timeLimit === 0 ? Infinity : request.timeLimit * 1000, this.ldap.limits.timeLimitMs);
    const started = Date.now();
    const found: Entry[] = [];
    let outcome: number = RESULT.success;
    let scanned = 0;
    for (const entry of tree.search(base, scope, request.filter)) {
      if ((scanned += 1) % 512 === 0 && Date.now() - started > timeLimitMs) {
        outcome = RESULT.timeLimitExceeded;
        break;
      }
      if (!visible(entry)) continue;
      if (found.length >= limit) {
        outcome = RESULT.sizeLimitExceeded;
        break;
      }
      found.push(entry);
    }
    if (page !== null && outcome !== RESULT.timeLimitExceeded) {
      return this.sendPage(id, { entries: found, offset: 0, attributes: request.attributes, typesOnly: request.typesOnly, truncated: outcome === RESULT.sizeLimitExceeded }, page.size);
    }
    for (const entry of found) await this.write(encodeEntry(id, entry.dn, selectAttributes(entry, request.attributes, request.typesOnly)));
    return done(outcome, outcome === RESULT.sizeLimitExceeded ? "size limit exceeded" : outcome === RESULT.timeLimitExceeded ? "time limit exceeded" : "");
  }

  private async sendPage(id: number, state: PagedSearch, size: number): Promise<void> {
    const end = size === 0 ? state.entries.length : Math.min(state.entries.length, state.offset + size);
    for (let i = state.offset; i < end; i += 1) {
      const entry = state.entries[i]!;
      await this.write(encodeEntry(id, entry.dn, selectAttributes(entry, state.attributes, state.typesOnly)));
    }
    let cookie = Buffer.alloc(0);
    if (end < state.entries.length) {
      if (this.pages.size >= MAX_OPEN_PAGES) this.pages.delete(this.pages.keys().next().value!);
      cookie = randomBytes(12);
      this.pages.set(cookie.toString("hex"), { ...state, offset: end });
    }
    const code = end >= state.entries.length && state.truncated ? RESULT.sizeLimitExceeded : RESULT.success;
    await this.write(encodeResult(id, RESPONSE.searchDone, code, "", { controls: [encodePagedControl(cookie)] }));
  }

  private async compare(id: number, request: Extract<Request, { op: "compare" }>): Promise<void> {
    const answer = (code: number, text = ""): Promise<void> => this.write(encodeResult(id, RESPONSE.compare, code, text));
    const visible = this.visible();
    if (visible === null) return answer(RESULT.insufficientAccessRights, "bind first");
    const ndn = normalizeDnText(request.dn);
    if (ndn === null) return answer(RESULT.invalidDnSyntax, "not a DN");
    const entry = (await this.ldap.currentTree()).find(ndn);
    if (entry === undefined || !visible(entry)) return answer(RESULT.noSuchObject, "no such entry");
    const attribute = request.attribute.split(";")[0]!.toLowerCase();
    const values = entry.get(attribute);
    if (values === undefined) return answer(RESULT.noSuchAttribute, "");
    const wanted = compareForm(attribute, request.value);
    return answer(values.some((v) => compareForm(attribute, v) === wanted) ? RESULT.compareTrue : RESULT.compareFalse);
  }

  private async extended(id: number, request: Extract<Request, { op: "extended" }>): Promise<void> {
    if (request.name === OID.whoAmI) {
      const identity = this.identity;
      const value = identity.kind === "anonymous" ? "" : `dn:${identity.dn}`;
      await this.write(encodeExtendedResult(id, RESULT.success, "", { value }));
      return;
    }
    if (request.name === OID.startTls) return this.startTls(id);
    await this.write(encodeExtendedResult(id, RESULT.protocolError, `extended operation ${request.name} is not supported`, {}));
  }

  private async startTls(id: number): Promise<void> {
    const context = this.ldap.secureContext;
    if (context === null) {
      await this.write(encodeExtendedResult(id, RESULT.unavailable, "StartTLS is not configured (ldap tls_cert_file and tls_key_file)", { name: OID.startTls }));
      return;
    }
    if (this.secure) {
      await this.write(encodeExtendedResult(id, RESULT.operationsError, "TLS is already in use", { name: OID.startTls }));
      return;
    }
    if (this.queue.length > 0 || this.pending.length > 0) {
      // RFC 4511 §4.14.1: nothing may follow the request before the TLS handshake.
      this.disconnect(RESULT.protocolError, "data after a StartTLS request");
      return;
    }
    const raw = this.socket;
    raw.off("data", this.onData);
    await this.write(encodeExtendedResult(id, RESULT.success, "", { name: OID.startTls }));
    const secured = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    secured.on("error", () => raw.destroy());
    secured.on("data", this.onData);
    this.socket = secured;
    this.secure = true;
    // Binds and searches after StartTLS are a new start: nothing from before the handshake carries over.
    this.identity = { kind: "anonymous" };
    this.account = null;
    this.pages.clear();
  }
}

function responseTagOf(request: Request): number {
  switch (request.op) {
    case "bind":
      return RESPONSE.bind;
    case "search":
      return RESPONSE.searchDone;
    case "compare":
      return RESPONSE.compare;
    case "extended":
      return RESPONSE.extended;
    case "write":
      return request.responseTag;
    default:
      return RESPONSE.extended;
  }
}

/** The attributes a search asked for: none named or `*` → all; `1.1` → none; names ignore case. */
export function selectAttributes(entry: Entry, requested: readonly string[], typesOnly: boolean): Array<{ name: string; values: string[] }> {
  const wanted = requested.map((a) => a.split(";")[0]!.toLowerCase());
  const all = wanted.length === 0 || wanted.includes("*") || wanted.includes("+");
  const chosen = entry.attributes.filter((a) => all || wanted.includes(a.name.toLowerCase()));
  return chosen.map((a) => ({ name: a.name, values: typesOnly ? [] : a.values }));
}
