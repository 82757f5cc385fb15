/**
 * The kinds of setting a config section is made of. One declaration gives a setting its file
 * key, its environment variable, its flag (when a command offers one), its check and its default,
 * so the three ways of giving a value cannot drift apart. Pure: no I/O, and zod is loaded only by
 * the file loader (a server started from flags and the environment never loads it).
 */
import type { z as Zod } from "zod";
import { formatDuration, parseDuration } from "../duration.js";

/** Where a relative path in a value is resolved: the config file's directory, or the working directory. */
export interface ValueContext {
  baseDir: string;
  /** The flag, variable or key the value came from, for checks that name it themselves. */
  source?: string | undefined;
}

export interface Setting<T = unknown> {
  /** One line for `--help` and `config show`. */
  describe: string;
  /** What a value must look like, as errors say it ("a duration like 90s, 15m, 12h or 30d"). */
  expected: string;
  /** The value when none is given; a function for defaults that depend on the machine. */
  default?: T | ((env: NodeJS.ProcessEnv) => T) | undefined;
  /** Masked by `config show`; also given as KEY_file / SSOCTL_KEY_FILE; written inline, `holdsSecret` says whether to warn. */
  secret?: { holdsSecret: (value: T) => boolean } | undefined;
  /** SIGHUP applies a new value without a restart. */
  live?: boolean | undefined;
  /** The flag's name when it is not the key's (`--database` for `storage.database_url`). */
  flag?: string | undefined;
  /** A boolean whose flag turns it off (`--no-redirect` for `server.redirect`). */
  negatedFlag?: boolean | undefined;
  /** A list whose flag is repeated (`--trusted-proxy A --trusted-proxy B`). */
  repeatable?: boolean | undefined;
  /** The flag's argument in `--help` (`--port <n>`). */
  placeholder?: string | undefined;
  /** The flag's help when it reads differently from the setting's (`--no-redirect`). */
  flagDescribe?: string | undefined;
  /** The JSON shape the file must hold here, before `check`. */
  fileType: (z: typeof Zod) => Zod.ZodType;
  /** A flag's or variable's text, or the file's value, to the value; throws an Error saying what is wrong. */
  check: (raw: unknown, context: ValueContext) => T;
  /** The value as `config show` and `export` print it. */
  format: (value: T) => string;
}

/** A value that is not what the setting expects: the message is the setting's `expected`. */
export class BadValue extends Error {}

/** One item of a list is wrong: the message says which and why (`"x" is not an IP address`). */
export class BadItem extends Error {}

interface Common<T> {
  describe: string;
  placeholder?: string | undefined;
  flagDescribe?: string | undefined;
  default?: T | ((env: NodeJS.ProcessEnv) => T) | undefined;
  live?: boolean | undefined;
  flag?: string | undefined;
}

export function text(options: Common<string> & { check?: (value: string) => string | null }): Setting<string> {
  const expected = "a text";
  return {
    placeholder: "text",
    ...options,
    expected,
    fileType: (z) => z.string(),
    check: (raw) => {
      const value = String(raw);
      const problem = options.check?.(value) ?? null;
      if (problem !== null) throw new BadValue(problem);
      return value;
    },
    format: (value) => value,
  };
}

/** A file or directory path; a relative one is taken from the config file's directory. */
export function filePath(options: Common<string>): Setting<string> {
  return {
    placeholder: "path",
    ...options,
    expected: "a path",
    fileType: (z) => z.string().min(1),
    check: (raw, context) => {
      const value = String(raw);
      if (value === "") throw new BadValue("a path");
      return value.startsWith("/") ? value : `${context.baseDir.replace(/\/+$/, "")}/${value}`;
    },
    format: (value) => value,
  };
}

export function integer(options: Common<number> & { min: number; max: number }): Setting<number> {
  const expected = `a whole number from ${options.min} to ${options.max}`;
  return {
    placeholder: "n",
    ...options,
    expected,
    fileType: (z) => z.number().int(),
    check: (raw) => {
      const value = typeof raw === "number" ? raw : /^\d+$/.test(String(raw)) ? Number(raw) : NaN;
      if (!Number.isInteger(value) || value < options.min || value > options.max) throw new BadValue(expected);
      return value;
    },
    format: (value) => String(value),
  };
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

export function boolean(options: Common<boolean> & { negatedFlag?: boolean }): Setting<boolean> {
  const expected = "true or false";
  return {
    ...options,
    expected,
    fileType: (z) => z.boolean(),
    check: (raw) => {
      if (typeof raw === "boolean") return raw;
      const word = String(raw).trim().toLowerCase();
      if (TRUE.has(word)) return true;
      if (FALSE.has(word)) return false;
      throw new BadValue(expected);
    },
    format: (value) => String(value),
  };
}

/** `90s`, `15m`, `12h`, `30d` in the file, the environment and flags alike; the value is seconds. */
export function duration(options: Common<number> & { min?: number }): Setting<number> {
  const expected = `a duration like 90s, 15m, 12h or 30d${options.min !== undefined ? ` (at least ${formatDuration(options.min)})` : ""}`;
  return {
    placeholder: "duration",
    ...options,
    expected,
    fileType: (z) => z.string(),
    check: (raw) => {
      const seconds = parseDuration(String(raw));
      if (seconds === null || seconds < (options.min ?? 0)) throw new BadValue(expected);
      return seconds;
    },
    format: (value) => formatDuration(value),
  };
}

/** An absolute URL with one of `protocols`; kept as written (the server normalises what it needs). */
export function url(options: Common<string> & { protocols: string[]; example: string }): Setting<string> {
  const expected = `a URL starting with ${options.protocols.map((p) => `${p}//`).join(" or ")} (for example ${options.example})`;
  return {
    placeholder: "url",
    ...options,
    expected,
    fileType: (z) => z.string(),
    check: (raw) => {
      const value = String(raw).trim();
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        throw new BadValue(expected);
      }
      if (!options.protocols.includes(parsed.protocol) || parsed.hostname === "") throw new BadValue(expected);
      return value;
    },
    format: (value) => value,
  };
}

/** Several texts: a YAML list (or one text) in the file, comma-separated in the environment, a repeated flag. */
export function list(options: Common<string[]> & { item: string; check?: (value: string) => string | null }): Setting<string[]> {
  const expected = `a list of ${options.item}`;
  return {
    placeholder: "value",
    ...options,
    repeatable: true,
    expected,
    fileType: (z) => z.union([z.array(z.string()), z.string()]),
    check: (raw) => {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(",");
      const values = items.map((item) => item.trim()).filter((item) => item !== "");
      for (const value of values) {
        const problem = options.check?.(value) ?? null;
        if (problem !== null) throw new BadItem(problem);
      }
      return values;
    },
    format: (value) => value.join(", "),
  };
}

/**
 * A secret: by reference as `KEY_file` in the file or `SSOCTL_KEY_FILE` (read at load), or as
 * `SSOCTL_KEY`; written inline in the file it works, and `doctor` and `config check` warn.
 */
export function secret<T>(inner: Setting<T>, options: { mask?: (value: T) => string; holdsSecret?: (value: T) => boolean } = {}): Setting<T> {
  return {
    ...inner,
    secret: { holdsSecret: options.holdsSecret ?? (() => true) },
    format: options.mask ?? (() => "********"),
  };
}
