/**
 * The one loader every command uses: flag > environment > file > default for each setting of
 * CONFIG_SECTIONS, the file validated against the schema built from the same declarations.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { describeFsError } from "../data-dir.js";
import { SsoctlError, UsageError } from "../errors.js";
import { STATE_SECTIONS } from "../state/names.js";
import { CONFIG_SECTIONS, type ConfigSection } from "./schema.js";
import { BadItem, BadValue, type Setting, type ValueContext } from "./settings.js";
import { FileProblemError, readYamlFile, type YamlFile } from "./yaml-file.js";

export const DEFAULT_CONFIG_FILE = "/etc/ssoctl/ssoctl.yaml";

export type Origin =
  | { kind: "flag"; name: string }
  | { kind: "env"; name: string }
  | { kind: "file"; file: string; line: number }
  | { kind: "default" };

export interface Entry {
  /** `section.key`, as in the file. */
  key: string;
  setting: Setting<any>;
  /** Undefined: not set, and no default. */
  value: unknown;
  origin: Origin;
  env: string;
}

/** A setting given on the command line, already checked by the option's parser. */
export interface FlagValue {
  value: unknown;
  flag: string;
}

export interface LoadOptions {
  /** `--config FILE`. */
  configFlag?: string | undefined;
  flags?: ReadonlyMap<string, FlagValue> | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Read when neither `--config` nor SSOCTL_CONFIG names a file, if it exists. */
  defaultFile?: string | undefined;
}

export class Config {
  constructor(
    /** The file read, or null. */
    readonly file: string | null,
    private readonly entries: ReadonlyMap<string, Entry>,
    /** Inline secrets and the like: shown by `config check` and `doctor`. */
    readonly warnings: readonly string[],
  ) {}

  get<T>(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) throw new Error(`no setting ${key} in the config schema`);
    return entry.value as T | undefined;
  }

  entry(key: string): Entry {
    const entry = this.entries.get(key);
    if (entry === undefined) throw new Error(`no setting ${key} in the config schema`);
    return entry;
  }

  list(): Entry[] {
    return [...this.entries.values()];
  }
}

/** The environment variable of a setting: SSOCTL_PUBLIC_URL, SSOCTL_MAIL_SMTP_HOST. */
export function envName(section: ConfigSection, key: string): string {
  return section.env + key.replace(/\./g, "_").toUpperCase();
}

/** Which file to read: `--config`, else SSOCTL_CONFIG, else the default one when it exists. */
export function configFileOf(options: LoadOptions): string | null {
  if (options.configFlag !== undefined) return path.resolve(options.configFlag);
  const fromEnv = options.env?.SSOCTL_CONFIG;
  if (fromEnv !== undefined && fromEnv.trim() !== "") return path.resolve(fromEnv.trim());
  const fallback = options.defaultFile ?? DEFAULT_CONFIG_FILE;
  return fs.existsSync(fallback) ? fallback : null;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = configFileOf({ ...options, env });
  const fromFile = file === null ? new Map<string, FileValue>() : readConfigFile(file).values;
  const cwd: ValueContext = { baseDir: process.cwd() };
  const entries = new Map<string, Entry>();
  const warnings: string[] = [];
  for (const [sectionName, section] of Object.entries(CONFIG_SECTIONS) as Array<[string, ConfigSection]>) {
    const values = new Map<string, unknown>();
    for (const [key, setting] of Object.entries(section.settings)) {
      const full = `${sectionName}.${key}`;
      const variable = envName(section, key);
      const entry = (): Entry => {
        const flag = options.flags?.get(full);
        if (flag !== undefined) return { key: full, setting, value: flag.value, origin: { kind: "flag", name: flag.flag }, env: variable };
        const fromEnv = envValue(setting, variable, env, cwd);
        if (fromEnv !== undefined) return { key: full, setting, value: fromEnv.value, origin: { kind: "env", name: fromEnv.name }, env: variable };
        const inFile = fromFile.get(full);
        if (inFile !== undefined) {
          if (inFile.inline && setting.secret?.holdsSecret(inFile.value) === true) {
            warnings.push(`${file}:${inFile.line}: ${full} is written inline; put it in a file named by ${full.split(".").pop()}_file (readable only by ssoctl) or in ${variable}`);
          }
          return { key: full, setting, value: inFile.value, origin: { kind: "file", file: file!, line: inFile.line }, env: variable };
        }
        const fallback = typeof setting.default === "function" ? (setting.default as (env: NodeJS.ProcessEnv) => unknown)(env) : setting.default;
        return { key: full, setting, value: fallback, origin: { kind: "default" }, env: variable };
      };
      const made = entry();
      entries.set(full, made);
      values.set(key, made.value);
    }
    const problem = section.check?.(values) ?? null;
    if (problem !== null) throw new SsoctlError(`${sectionName}: ${problem}${file === null ? "" : ` (config file ${file})`}`, { exitCode: 2 });
  }
  return new Config(file, entries, warnings);
}

function envValue(setting: Setting<any>, name: string, env: NodeJS.ProcessEnv, context: ValueContext): { value: unknown; name: string } | undefined {
  const direct = env[name];
  if (direct !== undefined && direct.trim() !== "") return { value: checkText(setting, direct, name, context), name };
  if (setting.secret === undefined) return undefined;
  const fileName = `${name}_FILE`;
  const file = env[fileName];
  if (file === undefined || file.trim() === "") return undefined;
  const text = readSecretFile(file.trim(), fileName);
  try {
    return { value: setting.check(text, { ...context, source: fileName }), name: fileName };
  } catch {
    // What the file holds never appears in a message.
    throw new UsageError(`${fileName}: ${file.trim()} does not hold ${setting.expected}`);
  }
}

/** A flag's or variable's text through the setting's check; a bad one is a usage error naming it. */
export function checkText(setting: Setting<any>, raw: string, name: string, context: ValueContext = { baseDir: process.cwd() }): unknown {
  try {
    return setting.check(raw, { ...context, source: name });
  } catch (error) {
    if (error instanceof BadItem) throw new UsageError(`${name} ${error.message}`);
    if (!(error instanceof BadValue)) throw error;
    const shown = setting.secret === undefined ? ` "${raw}"` : "";
    throw new UsageError(`${name}${shown} is not ${error.message}`);
  }
}

/** A secret kept in a file: its first line, without the newline editors add. */
export function readSecretFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, "utf8").split(/\r?\n/)[0]!;
  } catch (error) {
    throw new SsoctlError(`${what}: cannot read ${file}: ${describeFsError(error)}`, { cause: error });
  }
}

interface FileValue {
  value: unknown;
  line: number;
  /** Written in the file itself rather than read from a `_file`. */
  inline: boolean;
}

const require = createRequire(import.meta.url);

/**
 * Validates a config file against the schema and returns its values by `section.key`. Every
 * problem names its line and what was expected; the first one is the error's message.
 */
export function readConfigFile(file: string): { yaml: YamlFile; values: Map<string, FileValue> } {
  const yaml = readYamlFile(file);
  const { z } = require("zod") as typeof import("zod");
  const context: ValueContext = { baseDir: path.dirname(file) };
  const values = new Map<string, FileValue>();
  const problems: Array<{ line: number; message: string }> = [];
  const sections: Record<string, import("zod").ZodType> = {};
  for (const name of STATE_SECTIONS) sections[name] = z.unknown().optional();
  for (const [name, section] of Object.entries(CONFIG_SECTIONS) as Array<[string, ConfigSection]>) {
    sections[name] = sectionSchema(z, name, section, context, values, yaml);
  }
  const result = z.strictObject(sections).safeParse(yaml.data);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const at = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          problems.push({ line: yaml.lineOf([...at, key], { key: true }), message: unknownKeyMessage(at, key) });
        }
        continue;
      }
      const setting = settingAt(at);
      const where = at.join(".");
      const plain = issue.code === "custom" && (issue as { params?: { expected?: boolean } }).params?.expected !== true;
      const expected = issue.code === "custom" ? issue.message : (setting?.expected ?? (issue.code === "invalid_type" && issue.expected === "object" ? "a mapping of keys (key: value)" : issue.message));
      problems.push({ line: yaml.lineOf(at), message: plain ? `${where}: ${issue.message}` : `${where}: expected ${expected}` });
    }
  }
  if (problems.length > 0) throw new FileProblemError(file, problems.sort((a, b) => a.line - b.line));
  return { yaml, values };
}

/** A section's strict object, nested along dotted keys, each leaf checked by its setting. */
function sectionSchema(
  z: typeof import("zod").z,
  name: string,
  section: ConfigSection,
  context: ValueContext,
  values: Map<string, FileValue>,
  yaml: YamlFile,
): import("zod").ZodType {
  interface Tree {
    [key: string]: Tree | import("zod").ZodType;
  }
  const tree: Tree = {};
  const leaf = (key: string, setting: Setting<any>, fromFile: boolean): import("zod").ZodType =>
    (fromFile ? z.string().min(1) : setting.fileType(z)).optional().transform((raw: unknown, ctx) => {
      if (raw === undefined) return undefined;
      const filePath = [name, ...key.split(".")];
      let given: unknown = raw;
      try {
        if (fromFile) given = readSecretFile(path.resolve(context.baseDir, String(raw)), `${name}.${key}_file`);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message.replace(`${name}.${key}_file: `, ""), params: { expected: false } });
        return z.NEVER;
      }
      try {
        const value = setting.check(given, { ...context, source: `${name}.${key}` });
        const at = fromFile ? [...filePath.slice(0, -1), `${filePath.at(-1)}_file`] : filePath;
        values.set(`${name}.${key}`, { value, line: yaml.lineOf(at), inline: !fromFile });
        return value;
      } catch (error) {
        // What a secret's file holds never appears in a message, whatever it is.
        if (fromFile || !(error instanceof BadValue || error instanceof BadItem || error instanceof SsoctlError)) {
          ctx.addIssue({ code: "custom", message: setting.expected, params: { expected: true } });
        } else {
          const message = (error as Error).message;
          ctx.addIssue({ code: "custom", message: message.startsWith(`${name}.${key} `) ? message.slice(name.length + key.length + 2) : message, params: { expected: error instanceof BadValue } });
        }
        return z.NEVER;
      }
    });
  for (const [key, setting] of Object.entries(section.settings)) {
    const parts = key.split(".");
    let node = tree;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Tree;
    const last = parts.at(-1)!;
    node[last] = leaf(key, setting, false);
    if (setting.secret !== undefined) node[`${last}_file`] = leaf(key, setting, true);
  }
  const build = (node: Tree): import("zod").ZodType =>
    z
      .strictObject(Object.fromEntries(Object.entries(node).map(([k, v]) => [k, v instanceof z.ZodType ? v : build(v as Tree)])))
      .nullable()
      .optional();
  let schema = build(tree);
  // A secret given both ways is a mistake: say so rather than pick one.
  schema = schema.superRefine((object, ctx) => {
    for (const [key, setting] of Object.entries(section.settings)) {
      if (setting.secret === undefined) continue;
      const parts = key.split(".");
      const parent = parts.slice(0, -1).reduce<any>((o, p) => o?.[p], object);
      const last = parts.at(-1)!;
      if (parent?.[last] !== undefined && parent?.[`${last}_file`] !== undefined) {
        ctx.addIssue({ code: "custom", path: [...parts.slice(0, -1), `${last}_file`], message: `either ${last} or ${last}_file, not both` });
      }
    }
  });
  return schema;
}

function settingAt(at: ReadonlyArray<string | number>): Setting<any> | undefined {
  const [section, ...rest] = at;
  const settings = (CONFIG_SECTIONS as Record<string, ConfigSection>)[String(section)]?.settings;
  return settings?.[rest.join(".").replace(/_file$/, "")];
}

function unknownKeyMessage(at: ReadonlyArray<string | number>, key: string): string {
  if (at.length === 0) {
    const known = [...Object.keys(CONFIG_SECTIONS), ...STATE_SECTIONS].join(", ");
    return `unknown section "${key}"; expected one of ${known}`;
  }
  const section = (CONFIG_SECTIONS as Record<string, ConfigSection>)[String(at[0])]!;
  const prefix = at.slice(1).join(".");
  const here = Object.entries(section.settings)
    .filter(([k]) => prefix === "" || k.startsWith(`${prefix}.`))
    .flatMap(([k, s]) => {
      const name = (prefix === "" ? k : k.slice(prefix.length + 1)).split(".")[0]!;
      return s.secret !== undefined ? [name, `${name}_file`] : [name];
    });
  return `unknown key "${[...at, key].join(".")}"; expected one of ${[...new Set(here)].join(", ")}`;
}
