/**
 * Reading a YAML file the way `ssoctl.yaml` and `ssoctl apply` files are read: size-capped, aliases
 * capped (an "anchor bomb" of nested aliases expands to gigabytes), duplicate keys refused, and
 * every value traceable to its line for error messages.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { describeFsError } from "../data-dir.js";
import { SsoctlError } from "../errors.js";

/** A config or state file is a page or two; anything past this is not one. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Aliases a file may use; a real file uses a handful, a bomb uses thousands. */
export const MAX_ALIASES = 100;

export type YamlPath = ReadonlyArray<string | number>;

export interface YamlFile {
  file: string;
  /** The document as plain data (an empty file is an empty mapping). */
  data: Record<string, unknown>;
  /** The 1-based line of the value (or, with `key`, of the key) at `path`; the nearest enclosing node's otherwise. */
  lineOf: (path: YamlPath, options?: { key?: boolean }) => number;
}

/** A problem in a file, at a line: `FILE:LINE: message`. */
export class FileProblemError extends SsoctlError {
  constructor(
    readonly file: string,
    readonly problems: ReadonlyArray<{ line: number; message: string }>,
  ) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more; \`ssoctl config check ${file}\` lists them)` : "";
    super(`${file}:${first.line}: ${first.message}${more}`);
    this.name = "FileProblemError";
  }
}

// `yaml` loads only when there is a file to read, synchronously, so the commands that need a
// config stay synchronous and a server without a file never loads it.
const require = createRequire(import.meta.url);

export function readYamlFile(file: string): YamlFile {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_FILE_BYTES) throw new SsoctlError(`${file} is ${size} bytes; a config or state file is at most ${MAX_FILE_BYTES} bytes`);
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if (error instanceof SsoctlError) throw error;
    throw new SsoctlError(`cannot read ${file}: ${describeFsError(error)}`, { cause: error });
  }
  return parseYaml(file, text);
}

export function parseYaml(file: string, text: string): YamlFile {
  const YAML = require("yaml") as typeof import("yaml");
  const lineCounter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  if (doc.errors.length > 0) {
    throw new FileProblemError(
      file,
      doc.errors.map((error) => ({ line: lineAt(error.pos[0]), message: `not valid YAML: ${error.message.split("\n")[0]}` })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (error) {
    throw new FileProblemError(file, [{ line: 1, message: `YAML aliases expand past the limit of ${MAX_ALIASES}; write the values out (${(error as Error).message})` }]);
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new FileProblemError(file, [{ line: 1, message: "expected a mapping of sections (server:, storage:, users:, …) at the top" }]);
  }
  const lineOf = (path: YamlPath, options: { key?: boolean } = {}): number => {
    for (let depth = path.length; depth >= 0; depth--) {
      const prefix = path.slice(0, depth);
      if (options.key === true && depth === path.length && depth > 0) {
        const parent = prefix.length === 1 ? doc.contents : doc.getIn(prefix.slice(0, -1), true);
        if (YAML.isMap(parent)) {
          const pair = parent.items.find((item) => YAML.isScalar(item.key) && String(item.key.value) === String(path[depth - 1]));
          const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
          if (range !== undefined) return lineAt(range[0]);
        }
        continue;
      }
      const node = depth === 0 ? doc.contents : doc.getIn(prefix, true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range !== undefined) return lineAt(range[0]);
    }
    return 1;
  };
  return { file, data: data as Record<string, unknown>, lineOf };
}
