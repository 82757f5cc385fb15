/**
 * The HTTP-Redirect and HTTP-POST bindings: getting a SAML message out of a request, and putting
 * one into an answer. Pure. Sizes are capped before and after inflating, so neither a long
 * query nor a DEFLATE bomb costs more than MAX_MESSAGE_BYTES of memory.
 */
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { escapeXml } from "../cas/xml.js";
import { signRedirectQuery } from "./signature.js";
import { SIGNATURE_ALGORITHM } from "./names.js";
import { MAX_MESSAGE_BYTES, SamlInputError } from "./xml.js";

/** Longest base64 text accepted for one message (a bound before any decoding). */
export const MAX_ENCODED_CHARS = 24 * 1024;

export type MessageKind = "SAMLRequest" | "SAMLResponse";

export interface ReceivedMessage {
  kind: MessageKind;
  xml: string;
  relayState: string | null;
  binding: "redirect" | "post";
  /** HTTP-Redirect only: the signature over the query, when the sender signed it. */
  redirectSignature: { signed: string; sigAlg: string; signature: string } | null;
}

function decodeBase64(text: string, what: string): Buffer {
  if (text.length > MAX_ENCODED_CHARS) throw new SamlInputError(`the ${what} is too large`);
  // Line breaks and spaces appear in POSTed base64 from some SPs; nothing else that is not base64.
  const compact = text.replace(/[\r\n\t ]/g, "");
  if (compact === "" || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new SamlInputError(`the ${what} is not base64`);
  return Buffer.from(compact, "base64");
}

function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SamlInputError(`the ${what} is not UTF-8 text`);
  }
}

/** Splits a raw query string into (name, raw value) pairs, each name at most once. */
function rawParams(query: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const equals = part.indexOf("=");
    const rawName = equals === -1 ? part : part.slice(0, equals);
    const rawValue = equals === -1 ? "" : part.slice(equals + 1);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, " "));
    } catch {
      throw new SamlInputError("the request address is not properly encoded");
    }
    if (found.has(name)) throw new SamlInputError(`the parameter "${name.slice(0, 32)}" was given more than once`);
    found.set(name, rawValue);
  }
  return found;
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    throw new SamlInputError("the request address is not properly encoded");
  }
}

/** The message of an HTTP-Redirect request (`rawQuery`: the query string as received, without `?`); null when it has none. */
export function readRedirect(rawQuery: string): ReceivedMessage | null {
  const params = rawParams(rawQuery);
  const kind: MessageKind | null = params.has("SAMLRequest") ? "SAMLRequest" : params.has("SAMLResponse") ? "SAMLResponse" : null;
  if (kind === null) return null;
  if (params.has("SAMLRequest") && params.has("SAMLResponse")) throw new SamlInputError("the request carries both a SAMLRequest and a SAMLResponse");
  const rawMessage = params.get(kind)!;
  const deflated = decodeBase64(decodeParam(rawMessage), kind);
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(deflated, { maxOutputLength: MAX_MESSAGE_BYTES });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new SamlInputError(`the ${kind} inflates to more than ${MAX_MESSAGE_BYTES / 1024} KiB`);
    }
    throw new SamlInputError(`the ${kind} is not DEFLATE-compressed as the HTTP-Redirect binding requires`);
  }
  const rawRelay = params.get("RelayState");
  const rawSigAlg = params.get("SigAlg");
  const rawSignature = params.get("Signature");
  let redirectSignature: ReceivedMessage["redirectSignature"] = null;
  if (rawSignature !== undefined || rawSigAlg !== undefined) {
    if (rawSignature === undefined || rawSigAlg === undefined) throw new SamlInputError("the request has SigAlg or Signature without the other");
    // SAML bindings §3.4.4.1: the signed text is these parameters in this order, as they were encoded.
    const signed = `${kind}=${rawMessage}` + (rawRelay === undefined ? "" : `&RelayState=${rawRelay}`) + `&SigAlg=${rawSigAlg}`;
    redirectSignature = { signed, sigAlg: decodeParam(rawSigAlg), signature: decodeParam(rawSignature) };
  }
  return {
    kind,
    xml: decodeUtf8(inflated, kind),
    relayState: rawRelay === undefined ? null : decodeParam(rawRelay),
    binding: "redirect",
    redirectSignature,
  };
}

/** The message of an HTTP-POST form; null when it has none. */
export function readPost(form: URLSearchParams): ReceivedMessage | null {
  const requests = form.getAll("SAMLRequest");
  const responses = form.getAll("SAMLResponse");
  if (requests.length + responses.length === 0) return null;
  if (requests.length + responses.length > 1) throw new SamlInputError("the form carries more than one SAML message");
  const relay = form.getAll("RelayState");
  if (relay.length > 1) throw new SamlInputError('the parameter "RelayState" was given more than once');
  const kind: MessageKind = requests.length === 1 ? "SAMLRequest" : "SAMLResponse";
  const bytes = decodeBase64((requests[0] ?? responses[0])!, kind);
  if (bytes.length > MAX_MESSAGE_BYTES) throw new SamlInputError(`the ${kind} is larger than ${MAX_MESSAGE_BYTES / 1024} KiB`);
  return { kind, xml: decodeUtf8(bytes, kind), relayState: relay[0] ?? null, binding: "post", redirectSignature: null };
}

/** RelayState is opaque, but SAML caps it at 80 bytes; a little slack for SPs that exceed it. */
export const MAX_RELAY_STATE_BYTES = 1024;

/** An HTTP-Redirect URL carrying `xml`, signed with the IdP's key. */
export function redirectUrl(location: string, kind: MessageKind, xml: string, relayState: string | null, privateKey: string): string {
  const encoded = encodeURIComponent(deflateRawSync(Buffer.from(xml, "utf8")).toString("base64"));
  let signed = `${kind}=${encoded}`;
  if (relayState !== null) signed += `&RelayState=${encodeURIComponent(relayState)}`;
  signed += `&SigAlg=${encodeURIComponent(SIGNATURE_ALGORITHM.rsaSha256)}`;
  const signature = encodeURIComponent(signRedirectQuery(signed, privateKey));
  return location + (location.includes("?") ? "&" : "?") + signed + `&Signature=${signature}`;
}

/**
 * The HTTP-POST binding's page: a form that posts itself to `action` (a registered endpoint). The
 * page's only script is an inline one allowed by its hash (postFormScriptHash), and the form
 * works without it.
 */
export function postFormHtml(action: string, kind: MessageKind, xml: string, relayState: string | null): string {
  const relay = relayState === null ? "" : `<input type="hidden" name="RelayState" value="${escapeXml(relayState)}">`;
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Signing you in…</title></head>` +
    `<body><form method="post" action="${escapeXml(action)}">` +
    `<input type="hidden" name="${kind}" value="${Buffer.from(xml, "utf8").toString("base64")}">${relay}` +
    `<noscript><p>Your browser does not run scripts: press Continue to go on.</p></noscript>` +
    `<button type="submit">Continue</button></form>` +
    `<script>${POST_FORM_SCRIPT}</script></body></html>\n`
  );
}

export const POST_FORM_SCRIPT = "document.forms[0].submit();";
