/**
 * Registered service providers: registering one from its metadata (`ssoctl saml add`), and the
 * SP with its parsed metadata as the endpoints use it.
 */
import { randomBytes } from "node:crypto";
import { request } from "undici";
import * as fs from "node:fs";
import { SsoctlError } from "../../errors.js";
import { printable } from "../../printable.js";
import type { SamlSp } from "../../store/saml.js";
import type { Store } from "../../store/store.js";
import { metadataWarnings, parseSpMetadata, type SpMetadata } from "./metadata.js";
import { MAX_MESSAGE_BYTES, SamlInputError } from "./xml.js";

export interface RegisteredSp {
  sp: SamlSp;
  metadata: SpMetadata;
}

/** Metadata larger than this is refused (it is read whole, as any SAML message). */
const MAX_METADATA_BYTES = MAX_MESSAGE_BYTES;
const FETCH_TIMEOUT_MS = 10_000;

/** The metadata text from a file or an http(s) URL. */
export async function readMetadataSource(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    let body: string;
    try {
      const answer = await request(source, { method: "GET", headersTimeout: FETCH_TIMEOUT_MS, bodyTimeout: FETCH_TIMEOUT_MS, signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (answer.statusCode !== 200) {
        await answer.body.dump();
        throw new SsoctlError(`${printable(source)} answered HTTP ${answer.statusCode}, not the metadata`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of answer.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_METADATA_BYTES) throw new SsoctlError(`the metadata at ${printable(source)} is larger than ${MAX_METADATA_BYTES / 1024} KiB`);
        chunks.push(chunk as Buffer);
      }
      body = Buffer.concat(chunks).toString("utf8");
    } catch (error) {
      if (error instanceof SsoctlError) throw error;
      throw new SsoctlError(`cannot fetch the metadata from ${printable(source)}: ${(error as Error).message}`);
    }
    return body;
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new SsoctlError(`cannot read the metadata file ${printable(source)}: no such file`);
  }
  if (stat.size > MAX_METADATA_BYTES) throw new SsoctlError(`the metadata file ${printable(source)} is larger than ${MAX_METADATA_BYTES / 1024} KiB`);
  return fs.readFileSync(source, "utf8");
}

export function parseRegistrationMetadata(xml: string): SpMetadata {
  try {
    return parseSpMetadata(xml);
  } catch (error) {
    if (error instanceof SamlInputError) throw new SsoctlError(`the metadata is not usable: ${error.message}`);
    throw error;
  }
}

export interface AddSpRequest {
  app: string;
  metadataXml: string;
  idpInitiated: boolean;
}

/** Registers (or, with `replace`, updates) an SP; returns it with the warnings about its metadata. */
export async function addSp(store: Store, request: AddSpRequest, now: number, options: { replace?: boolean } = {}): Promise<{ sp: SamlSp; metadata: SpMetadata; warnings: string[]; replaced: boolean }> {
  const metadata = parseRegistrationMetadata(request.metadataXml);
  const apps = await store.listApps();
  const app = apps.find((a) => a.origin === request.app.replace(/\/+$/, "") || a.name.toLowerCase() === request.app.toLowerCase());
  if (app === undefined) {
    throw new SsoctlError(`no app "${printable(request.app)}" is registered; register it first with \`ssoctl app add URL\` (its access rules then apply to this SP)`);
  }
  const sp: SamlSp = {
    entityId: metadata.entityId,
    appOrigin: app.origin,
    metadata: request.metadataXml,
    idpInitiated: request.idpInitiated,
    nameIdSecret: randomBytes(32).toString("base64url"),
    createdAt: now,
  };
  const warnings = metadataWarnings(metadata, now);
  if (await store.saml.addSamlSp(sp)) return { sp, metadata, warnings, replaced: false };
  if (options.replace !== true) {
    throw new SsoctlError(`an SP with the entity ID ${printable(metadata.entityId)} is registered already; \`ssoctl saml remove\` it first`);
  }
  await store.saml.updateSamlSp({ entityId: sp.entityId, appOrigin: sp.appOrigin, metadata: sp.metadata, idpInitiated: sp.idpInitiated });
  return { sp: (await store.saml.getSamlSp(sp.entityId))!, metadata, warnings, replaced: true };
}

export async function removeSp(store: Store, entityId: string): Promise<void> {
  if (!(await store.saml.removeSamlSp(entityId))) throw new SsoctlError(`no SAML SP with the entity ID ${printable(entityId)} is registered (see \`ssoctl saml list\`)`);
}

/** The SP and its metadata; null for an unknown entity ID. Registered metadata that no longer parses is a SamlInputError. */
export async function registeredSp(store: Store, entityId: string): Promise<RegisteredSp | null> {
  if (entityId.length > 1024) return null;
  const sp = await store.saml.getSamlSp(entityId);
  if (sp === null) return null;
  return { sp, metadata: parseSpMetadata(sp.metadata) };
}
