/**
 * `ssoctl apply` and `ssoctl export`: a state file read and checked whole before anything is
 * written, a plan of changes from what the database holds, and the plan run in one transaction.
 * A plan without changes writes nothing at all (no transaction, no audit row).
 */
import * as path from "node:path";
import { z } from "zod";
import { CONFIG_SECTIONS } from "../config/schema.js";
import { FileProblemError, readYamlFile, type YamlFile } from "../config/yaml-file.js";
import type { Store } from "../store/store.js";
import { STATE_SECTIONS, type StateSectionName } from "./names.js";
import { EntryProblem, SECTION_HANDLERS, type ApplyOptions, type Change, type Desired } from "./sections.js";

export interface StateFile {
  yaml: YamlFile;
  desired: Desired;
}

/** Reads and checks a state file: shapes first (every problem), then each entry with the commands' checks (the first problem). */
export function readStateFile(file: string, env: NodeJS.ProcessEnv = process.env): StateFile {
  const yaml = readYamlFile(file);
  const shape: Record<string, z.ZodType> = {};
  for (const name of Object.keys(CONFIG_SECTIONS)) shape[name] = z.unknown().optional();
  for (const name of STATE_SECTIONS) shape[name] = z.array(SECTION_HANDLERS[name].entry).nullable().optional();
  const result = z.strictObject(shape).safeParse(yaml.data);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => {
      const at = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map((key) => ({ line: yaml.lineOf([...at, key], { key: true }), message: `unknown key "${[...at, key].join(".")}"${at.length === 0 ? `; sections are ${[...Object.keys(CONFIG_SECTIONS), ...STATE_SECTIONS].join(", ")}` : ""}` }));
      }
      return [{ line: yaml.lineOf(at), message: `${at.join(".")}: ${issue.message.replace(/^Invalid input: /, "")}` }];
    });
    throw new FileProblemError(file, problems.sort((a, b) => a.line - b.line));
  }
  const context = { baseDir: path.dirname(path.resolve(file)), env };
  const desired: Desired = {};
  for (const name of STATE_SECTIONS) {
    const entries = yaml.data[name] as unknown[] | null | undefined;
    if (entries === undefined) continue;
    const handler = SECTION_HANDLERS[name];
    const parsed: unknown[] = [];
    const seen = new Map<string, number>();
    for (const [index, raw] of (entries ?? []).entries()) {
      let entry: unknown;
      try {
        entry = handler.parse(raw, context);
      } catch (error) {
        if (error instanceof EntryProblem) throw problemAt(yaml, [name, index, ...error.path], error.message);
        throw error;
      }
      const { key, field } = handler.identity(entry);
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        throw problemAt(yaml, [name, index, field], `a second ${name} entry for "${key}" (the first is at line ${yaml.lineOf([name, earlier, field])}); names are unique, ignoring case`);
      }
      seen.set(key, index);
      parsed.push(entry);
    }
    desired[name] = parsed;
  }
  return { yaml, desired };
}

function problemAt(yaml: YamlFile, at: Array<string | number>, message: string): FileProblemError {
  return new FileProblemError(yaml.file, [{ line: yaml.lineOf(at), message: `${at.join(".")}: ${message}` }]);
}

/** The changes that would make the database say what the file says, section by section in order. */
export async function planState(store: Store, state: StateFile, options: ApplyOptions): Promise<Change[]> {
  const changes: Change[] = [];
  for (const name of STATE_SECTIONS) {
    const desired = state.desired[name];
    if (desired === undefined) continue;
    try {
      changes.push(...(await SECTION_HANDLERS[name].plan(desired, store, options, state.desired)));
    } catch (error) {
      // A plan's problem names its place in the whole file (a reference to an app, say).
      if (error instanceof EntryProblem) throw problemAt(state.yaml, error.path, error.message);
      throw error;
    }
  }
  return changes;
}

export interface Applied {
  changes: string[];
  /** Invitation links and new client secrets, to print once. */
  notes: string[];
}

/** Plans and runs in one transaction, all or nothing. No change: no transaction at all. */
export async function applyState(store: Store, state: StateFile, options: ApplyOptions, now: number): Promise<Applied> {
  const first = await planState(store, state, options);
  if (first.length === 0) return { changes: [], notes: [] };
  return store.atomically(async (tx) => {
    // Planned again inside the transaction, so it runs against what it reads there.
    const changes = await planState(tx, state, options);
    const notes: string[] = [];
    for (const change of changes) await change.run(tx, now, notes);
    return { changes: changes.map((c) => c.text), notes };
  });
}

/** The database's state in the state file's format; the same state always prints the same bytes. */
export async function exportState(store: Store, sections: readonly StateSectionName[] = STATE_SECTIONS): Promise<string> {
  const { stringify } = await import("yaml");
  const document: Record<string, unknown> = {};
  for (const name of STATE_SECTIONS) if (sections.includes(name)) document[name] = await SECTION_HANDLERS[name].export(store);
  return stringify(document, { lineWidth: 0, aliasDuplicateObjects: false });
}
