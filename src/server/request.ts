/** Reading requests defensively: the URL, the query, and a bounded form body. */
import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-error.js";

export const MAX_BODY_BYTES = 16 * 1024;

export function requestUrl(req: IncomingMessage): URL {
  const raw = req.url ?? "";
  if (!raw.startsWith("/") || raw.startsWith("//")) {
    throw new HttpError(400, { heading: "Bad request", message: "The request address is not valid." });
  }
  try {
    return new URL(raw, "http://ssoctl.invalid");
  } catch {
    throw new HttpError(400, { heading: "Bad request", message: "The request address is not valid." });
  }
}

/** One value per parameter: a repeated parameter is refused, never guessed at. */
export function singleParams(params: URLSearchParams, names: readonly string[]): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {};
  for (const name of names) {
    const all = params.getAll(name);
    if (all.length > 1) {
      throw new HttpError(400, { heading: "Bad request", message: `The parameter "${name}" was given more than once.` });
    }
    values[name] = all[0];
  }
  return values;
}

/** Reads an `application/x-www-form-urlencoded` body of at most 16 KiB. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new HttpError(415, { heading: "Unsupported form", message: "The form must be sent as application/x-www-form-urlencoded." });
  }
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    // The stream fails only when the client went away mid-body ("aborted"): its fault, not a server failure.
    throw cutShort();
  }
  if (!req.complete) throw cutShort();
  const text = Buffer.concat(chunks).toString("utf8");
  return new URLSearchParams(text);
}

function cutShort(): HttpError {
  return new HttpError(400, { heading: "Bad request", message: "The request body was cut short.", headers: { Connection: "close" } });
}

function tooLarge(): HttpError {
  return new HttpError(413, {
    heading: "Request too large",
    message: `A form may be at most ${MAX_BODY_BYTES / 1024} KiB.`,
    headers: { Connection: "close" },
  });
}
