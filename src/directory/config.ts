/**
 * The `directory` section of the config file (DESIGN §18, §19), checked and turned into the source's
 * options. Keys follow the file's snake_case; the service password comes from `bind_password_file`
 * or `SSOCTL_DIRECTORY_BIND_PASSWORD`, never from the file itself. Throws a TypeError naming the key.
 */
import * as fs from "node:fs";
import { parseDuration } from "../duration.js";
import type { DirectoryConfig } from "../server/config.js";

const STRING_KEYS = {
  name: "name",
  ca_file: "caFile",
  bind_dn: "bindDn",
  user_base: "userBase",
  user_filter: "userFilter",
  username_attribute: "usernameAttribute",
  name_attribute: "nameAttribute",
  email_attribute: "emailAttribute",
  group_attribute: "groupAttribute",
  group_base: "groupBase",
  group_filter: "groupFilter",
  group_name_attribute: "groupNameAttribute",
} as const;
const KNOWN = new Set([...Object.keys(STRING_KEYS), "url", "starttls", "bind_password_file", "timeout", "pool_size", "recheck"]);

function duration(key: string, value: unknown): number {
  const seconds = typeof value === "string" ? parseDuration(value) : null;
  if (seconds === null || seconds <= 0) throw new TypeError(`directory.${key} must be a duration like 5s or 10m`);
  return seconds;
}

export function directoryConfigOf(section: unknown, env: NodeJS.ProcessEnv = process.env): DirectoryConfig {
  if (typeof section !== "object" || section === null || Array.isArray(section)) throw new TypeError("directory must be a mapping of settings");
  const raw = section as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (!KNOWN.has(key)) throw new TypeError(`directory.${key} is not a setting (known: ${[...KNOWN].join(", ")})`);
  const options: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(STRING_KEYS)) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "") throw new TypeError(`directory.${key} must be a non-empty string`);
    options[option] = value;
  }
  const urls = typeof raw.url === "string" ? [raw.url] : raw.url;
  if (!Array.isArray(urls) || urls.length === 0 || urls.some((u) => typeof u !== "string" || !/^ldaps?:\/\/[^/\s]+\/?$/.test(u))) {
    throw new TypeError("directory.url must be ldap://HOST[:PORT] or ldaps://HOST[:PORT], or a list of them");
  }
  for (const key of ["bind_dn", "user_base"] as const) if (raw[key] === undefined) throw new TypeError(`directory.${key} is required`);
  if (raw.starttls !== undefined && typeof raw.starttls !== "boolean") throw new TypeError("directory.starttls must be true or false");
  if ((raw.group_base === undefined) !== (raw.group_filter === undefined)) throw new TypeError("directory.group_base and directory.group_filter go together");
  if (raw.group_base !== undefined && raw.group_attribute !== undefined) throw new TypeError("directory: use group_attribute or group_base + group_filter, not both");
  for (const [key, placeholder] of [["user_filter", "{username}"], ["group_filter", "{dn}"]] as const) {
    const value = raw[key];
    if (typeof value === "string" && (!value.includes(placeholder) || !/^\(.*\)$/.test(value))) throw new TypeError(`directory.${key} must be a filter in parentheses containing ${placeholder}`);
  }
  if (raw.ca_file !== undefined && !fs.existsSync(raw.ca_file as string)) throw new TypeError(`directory.ca_file ${String(raw.ca_file)}: no such file`);
  let bindPassword = env.SSOCTL_DIRECTORY_BIND_PASSWORD;
  if (raw.bind_password_file !== undefined) {
    if (typeof raw.bind_password_file !== "string") throw new TypeError("directory.bind_password_file must be a file name");
    try {
      bindPassword = fs.readFileSync(raw.bind_password_file, "utf8").replace(/\r?\n$/, "");
    } catch (error) {
      throw new TypeError(`directory.bind_password_file ${raw.bind_password_file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : "cannot be read"}`);
    }
  }
  if (bindPassword === undefined || bindPassword === "") throw new TypeError("directory needs the service password: bind_password_file, or SSOCTL_DIRECTORY_BIND_PASSWORD");
  let poolSize: number | undefined;
  if (raw.pool_size !== undefined) {
    if (!Number.isInteger(raw.pool_size) || (raw.pool_size as number) < 1 || (raw.pool_size as number) > 64) throw new TypeError("directory.pool_size must be a whole number from 1 to 64");
    poolSize = raw.pool_size as number;
  }
  return {
    options: {
      name: "directory",
      ...options,
      url: urls as string[],
      starttls: raw.starttls as boolean | undefined,
      bindDn: options.bindDn as string,
      bindPassword,
      userBase: options.userBase as string,
      timeoutMs: raw.timeout === undefined ? undefined : duration("timeout", raw.timeout) * 1000,
      poolSize,
    },
    recheckSeconds: raw.recheck === undefined ? undefined : duration("recheck", raw.recheck),
  };
}
