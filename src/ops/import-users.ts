/**
 * `ssoctl user import`: users from Apache's htpasswd or Authelia's users_database.yml,
 * with their password hashes kept as they are (foreign-hashes.ts verifies them, and the
 * first sign-in replaces them with argon2id). Parsing is pure: a file becomes users to
 * write and entries refused with a reason; the store writes them in one transaction.
 * Reasons never repeat a hash or a password, only line numbers and usernames.
 */
import * as fs from "node:fs";
import YAML from "yaml";
import { parseProfile } from "../admin.js";
import { SsoctlError } from "../errors.js";
import { checkImportedHash, type HashFormat } from "../foreign-hashes.js";
import { printable } from "../printable.js";
import { isReservedUsername, usernameProblem } from "../username.js";
import type { ImportedUser, ImportOutcome, Store } from "../store/store.js";

export type ImportFormat = "htpasswd" | "authelia";
export const IMPORT_FORMATS: ImportFormat[] = ["htpasswd", "authelia"];

/** Far above any real user list (10,000 users in htpasswd are about 1 MB). */
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024;
/** An htpasswd line longer than this is not a username and a hash. */
export const MAX_LINE_CHARACTERS = 4096;
/** YAML aliases allowed in an Authelia file: enough for hand-written reuse, far too few for an alias bomb. */
export const MAX_YAML_ALIASES = 100;

export interface ImportCandidate extends ImportedUser {
  format: HashFormat;
  /** Where it came from: "line 3", or the YAML key. */
  where: string;
}

export interface RefusedEntry {
  where: string;
  reason: string;
}

export interface ParsedImport {
  users: ImportCandidate[];
  refused: RefusedEntry[];
}

/** Reads the file as text, or says why it is not an import file; nothing is written yet. */
export function readImportFile(file: string): string {
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new SsoctlError(`${file} is not a file`);
    size = stat.size;
  } catch (error) {
    if (error instanceof SsoctlError) throw error;
    throw new SsoctlError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
  if (size > MAX_IMPORT_BYTES) throw new SsoctlError(`${file} is ${size} bytes; an import file has at most ${MAX_IMPORT_BYTES} (split it)`);
  const bytes = fs.readFileSync(file);
  if (bytes.includes(0)) throw new SsoctlError(`${file} is not a text file (it contains NUL bytes)`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SsoctlError(`${file} is not UTF-8 text`);
  }
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}

export function parseImport(text: string, format: ImportFormat): ParsedImport {
  const parsed = format === "htpasswd" ? parseHtpasswd(text) : parseAuthelia(text);
  return refuseDuplicates(parsed);
}

/** `user:hash` lines; blank lines and `#` comments are passed over. */
export function parseHtpasswd(text: string): ParsedImport {
  const users: ImportCandidate[] = [];
  const refused: RefusedEntry[] = [];
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const where = `line ${index + 1}`;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "" || line.startsWith("#")) continue;
    if (line.length > MAX_LINE_CHARACTERS) {
      refused.push({ where, reason: `longer than ${MAX_LINE_CHARACTERS} characters; not a username and a hash` });
      continue;
    }
    const colon = line.indexOf(":");
    if (colon === -1) {
      refused.push({ where, reason: "not USERNAME:HASH (is this an htpasswd file?)" });
      continue;
    }
    const candidate = candidateOf(where, line.slice(0, colon), line.slice(colon + 1), {});
    if ("reason" in candidate) refused.push(candidate);
    else users.push(candidate);
  }
  return { users, refused };
}

/** Authelia's `users:` map: displayname, password, email, groups, disabled per user. */
export function parseAuthelia(text: string): ParsedImport {
  let document: unknown;
  try {
    // The core schema has no tags that run code; aliases are capped against alias bombs. prettyErrors
    // gives the line number; the message itself (it quotes the file) is never shown.
    document = YAML.parse(text, { maxAliasCount: MAX_YAML_ALIASES, uniqueKeys: true, prettyErrors: true, schema: "core" });
  } catch (error) {
    throw new SsoctlError(`not a usable Authelia users file: ${describeYamlError(error)}; nothing was imported`);
  }
  const users: ImportCandidate[] = [];
  const refused: RefusedEntry[] = [];
  const map = isPlainObject(document) ? document.users : undefined;
  if (!isPlainObject(map)) throw new SsoctlError("not an Authelia users file: no `users:` map at the top; nothing was imported");
  for (const [username, entry] of Object.entries(map)) {
    const where = `user "${printable(username, 64)}"`;
    if (!isPlainObject(entry)) {
      refused.push({ where, reason: "not a map of displayname, password, email, groups, disabled" });
      continue;
    }
    const { displayname, password, email, groups, disabled } = entry;
    const problem =
      typeof password !== "string" ? "has no password" :
      displayname !== undefined && displayname !== null && typeof displayname !== "string" ? "displayname is not text" :
      email !== undefined && email !== null && typeof email !== "string" ? "email is not text" :
      groups !== undefined && groups !== null && !(Array.isArray(groups) && groups.every((g) => typeof g === "string" && !g.includes(","))) ? "groups is not a list of group names" :
      disabled !== undefined && disabled !== null && typeof disabled !== "boolean" ? "disabled is not true or false" :
      null;
    if (problem !== null) {
      refused.push({ where, reason: problem });
      continue;
    }
    const candidate = candidateOf(where, username, password as string, {
      name: (displayname as string | undefined) ?? "",
      email: (email as string | undefined) ?? "",
      groups: ((groups as string[] | undefined) ?? []).join(","),
      disabled: disabled === true,
    });
    if ("reason" in candidate) refused.push(candidate);
    else users.push(candidate);
  }
  return { users, refused };
}

function candidateOf(
  where: string,
  username: string,
  hash: string,
  profile: { name?: string; email?: string; groups?: string; disabled?: boolean },
): ImportCandidate | RefusedEntry {
  const nameProblem = usernameProblem(username);
  if (nameProblem !== null) return { where, reason: nameProblem };
  if (isReservedUsername(username)) return { where, reason: `the username "${username}" is reserved for anonymous visitors` };
  const check = checkImportedHash(hash.trim());
  if (!check.ok) return { where: `${where} (${username})`, reason: check.reason };
  let valid: ReturnType<typeof parseProfile>;
  try {
    valid = parseProfile(profile);
  } catch (error) {
    return { where: `${where} (${username})`, reason: (error as Error).message.replace("--name", "displayname").replace("--email", "email") };
  }
  return { username, ...valid, passwordHash: hash.trim(), disabled: profile.disabled ?? false, format: check.format, where };
}

/** A name given twice (ignoring case) is refused every time: which of the two passwords is right is not ours to guess. */
function refuseDuplicates(parsed: ParsedImport): ParsedImport {
  const seen = new Map<string, string[]>();
  for (const user of parsed.users) {
    const key = user.username.toLowerCase();
    seen.set(key, [...(seen.get(key) ?? []), user.where]);
  }
  const users: ImportCandidate[] = [];
  const refused = [...parsed.refused];
  for (const user of parsed.users) {
    const places = seen.get(user.username.toLowerCase())!;
    if (places.length === 1) users.push(user);
    else refused.push({ where: `${user.where} (${user.username})`, reason: `the name appears ${places.length} times (${places.join(", ")}; names ignore case); none of them is imported` });
  }
  return { users, refused };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The YAML library's error, without the file's text (it may hold hashes). */
function describeYamlError(error: unknown): string {
  const e = error as { code?: string; linePos?: Array<{ line: number; col: number }>; message?: string };
  if (e?.code === "DUPLICATE_KEY") return `a key given twice (line ${e.linePos?.[0]?.line ?? "?"}): is a user listed twice?`;
  if (e?.code !== undefined) return `${e.code.toLowerCase().replace(/_/g, " ")} at line ${e.linePos?.[0]?.line ?? "?"}`;
  if (/alias/i.test(e?.message ?? "")) return `too many YAML aliases (more than ${MAX_YAML_ALIASES}; an alias bomb?)`;
  return printable(e?.message?.split("\n")[0] ?? String(error), 120);
}

export interface ImportReport {
  outcome: ImportOutcome;
  refused: RefusedEntry[];
  formats: Partial<Record<HashFormat, number>>;
  dryRun: boolean;
}

/** Writes the parsed users in one transaction (nothing with `dryRun`) and audits the import. */
export async function importUsers(store: Store, parsed: ParsedImport, options: { replace: boolean; dryRun: boolean; source: string }, now: number): Promise<ImportReport> {
  const outcome = await store.importUsers(
    parsed.users.map(({ format: _format, where: _where, ...user }) => user),
    { replace: options.replace, dryRun: options.dryRun },
    now,
  );
  const written = new Set([...outcome.created, ...outcome.replaced].map((name) => name.toLowerCase()));
  const formats: Partial<Record<HashFormat, number>> = {};
  for (const user of parsed.users) {
    if (written.has(user.username.toLowerCase())) formats[user.format] = (formats[user.format] ?? 0) + 1;
  }
  if (!options.dryRun && written.size > 0) {
    await store.audit({
      at: now,
      event: "users.imported",
      detail: { source: options.source, created: outcome.created.length, replaced: outcome.replaced.length, kept: outcome.kept.length, refused: parsed.refused.length },
    });
  }
  return { outcome, refused: parsed.refused, formats, dryRun: options.dryRun };
}

/** The report printed after an import: counts, then every entry not imported and why. */
export function formatImportReport(report: ImportReport, file: string, format: ImportFormat): string {
  const { outcome } = report;
  const formats = Object.entries(report.formats).map(([name, count]) => `${count} ${name}`).join(", ");
  const lines = [
    `${report.dryRun ? "Dry run, nothing written: would import" : "Imported"} ${outcome.created.length} new user(s)` +
      `${outcome.replaced.length > 0 ? ` and ${report.dryRun ? "replace" : "replaced"} ${outcome.replaced.length}` : ""} from ${file} (${format})${formats === "" ? "" : `; hashes: ${formats}`}.`,
  ];
  if (outcome.created.length + outcome.replaced.length > 0) {
    lines.push("Their hashes are kept as they are and replaced by argon2id at each user's first sign-in.");
  }
  if (outcome.replaced.length > 0) lines.push(`Replaced (sessions ended): ${outcome.replaced.join(", ")}`);
  const skipped = outcome.kept.length + report.refused.length;
  if (skipped > 0) lines.push(`Skipped ${skipped}:`);
  for (const name of outcome.kept) lines.push(`  ${name}: already exists (--replace overwrites it)`);
  for (const entry of report.refused) lines.push(`  ${entry.where}: ${entry.reason}`);
  return lines.join("\n");
}
