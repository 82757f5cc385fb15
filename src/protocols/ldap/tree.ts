/**
 * What the LDAP interface serves: ssoctl's enabled users under `ou=people` and their groups under
 * `ou=groups`, below the configured base DN, built from the store's users and rebuilt when they
 * change. Pure: the entries, a scope walk and a uid index; who may see what is decided by the caller.
 */
import { createHash } from "node:crypto";
import type { User } from "../../store/store.js";
import { normalizeDn, normalizeValue, parseDn, rdnText } from "./dn.js";
import { matchesFilter, requiredEquality, type Filter, type Matchable } from "./filter.js";
import type { Scope } from "./messages.js";

export interface Attribute {
  /** As returned to clients (`displayName`). */
  name: string;
  values: string[];
}

export class Entry implements Matchable {
  readonly ndn: string;
  readonly children: Entry[] = [];
  private readonly byName = new Map<string, string[]>();

  constructor(
    readonly dn: string,
    readonly attributes: Attribute[],
    readonly parent: Entry | null,
    /** The username, for entries of users. */
    readonly username: string | null = null,
  ) {
    this.ndn = normalizeDn(parseDn(dn));
    for (const attribute of attributes) this.byName.set(attribute.name.toLowerCase(), attribute.values);
    parent?.children.push(this);
  }

  get(attribute: string): readonly string[] | undefined {
    return this.byName.get(attribute);
  }

  /** Whether this entry is `base` or below it. */
  isWithin(base: Entry): boolean {
    for (let e: Entry | null = this; e !== null; e = e.parent) if (e === base) return true;
    return false;
  }
}

/** A stable id per user or group name, as slapd's entryUUID is per entry. */
function entryUuid(kind: string, name: string): string {
  const h = createHash("sha1").update(`ssoctl:${kind}:${name.toLowerCase()}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function baseEntry(baseDn: string): Entry {
  const first = parseDn(baseDn)[0]?.[0];
  const attributes: Attribute[] = [];
  if (first?.type === "dc") attributes.push({ name: "objectClass", values: ["top", "dcObject", "organization"] }, { name: "dc", values: [first.value] }, { name: "o", values: [first.value] });
  else if (first?.type === "o") attributes.push({ name: "objectClass", values: ["top", "organization"] }, { name: "o", values: [first.value] });
  else if (first?.type === "ou") attributes.push({ name: "objectClass", values: ["top", "organizationalUnit"] }, { name: "ou", values: [first.value] });
  else attributes.push({ name: "objectClass", values: ["top", "extensibleObject"] });
  return new Entry(baseDn, attributes, null);
}

export class DirectoryTree {
  readonly base: Entry;
  readonly people: Entry;
  readonly groups: Entry;
  private readonly byNdn = new Map<string, Entry>();
  private readonly byUid = new Map<string, Entry>();

  constructor(baseDn: string, users: Iterable<User>) {
    this.base = baseEntry(baseDn);
    this.people = new Entry(`ou=people,${baseDn}`, [{ name: "objectClass", values: ["top", "organizationalUnit"] }, { name: "ou", values: ["people"] }], this.base);
    this.groups = new Entry(`ou=groups,${baseDn}`, [{ name: "objectClass", values: ["top", "organizationalUnit"] }, { name: "ou", values: ["groups"] }], this.base);
    const members = new Map<string, { name: string; dns: string[] }>();
    const enabled: User[] = [];
    for (const user of users) if (!user.disabled) enabled.push(user);
    for (const user of enabled) {
      for (const group of user.groups) {
        const key = group.toLowerCase();
        const entry = members.get(key) ?? { name: group, dns: [] };
        entry.dns.push(this.userDn(user.username));
        members.set(key, entry);
      }
    }
    for (const user of enabled) {
      const cn = user.name === "" ? user.username : user.name;
      const words = cn.trim().split(/\s+/);
      const attributes: Attribute[] = [
        { name: "objectClass", values: ["top", "person", "organizationalPerson", "inetOrgPerson"] },
        { name: "uid", values: [user.username] },
        { name: "cn", values: [cn] },
        { name: "sn", values: [words[words.length - 1] ?? user.username] },
        { name: "displayName", values: [cn] },
      ];
      if (words.length > 1) attributes.push({ name: "givenName", values: [words[0]!] });
      if (user.email !== "") attributes.push({ name: "mail", values: [user.email] });
      if (user.groups.length > 0) attributes.push({ name: "memberOf", values: user.groups.map((g) => this.groupDn(members.get(g.toLowerCase())!.name)) });
      attributes.push({ name: "entryUUID", values: [entryUuid("user", user.username)] });
      const entry = new Entry(this.userDn(user.username), attributes, this.people, user.username);
      this.byUid.set(normalizeValue(user.username), entry);
    }
    for (const group of members.values()) {
      new Entry(
        this.groupDn(group.name),
        [
          { name: "objectClass", values: ["top", "groupOfNames", "groupOfUniqueNames"] },
          { name: "cn", values: [group.name] },
          { name: "member", values: group.dns },
          { name: "uniqueMember", values: group.dns },
          { name: "entryUUID", values: [entryUuid("group", group.name)] },
        ],
        this.groups,
      );
    }
    const index = (entry: Entry): void => {
      this.byNdn.set(entry.ndn, entry);
      for (const child of entry.children) index(child);
    };
    index(this.base);
  }

  userDn(username: string): string {
    return `${rdnText("uid", username)},${this.people.dn}`;
  }

  groupDn(name: string): string {
    return `${rdnText("cn", name)},${this.groups.dn}`;
  }

  /** The entry with this normal-form DN. */
  find(ndn: string): Entry | undefined {
    return this.byNdn.get(ndn);
  }

  /** The nearest existing entry above a DN that is not there (a noSuchObject's matchedDN). */
  nearest(ndn: string): Entry | null {
    for (let rest = ndn; rest.includes(","); ) {
      rest = rest.slice(rest.indexOf(",") + 1);
      const found = this.byNdn.get(rest);
      if (found !== undefined) return found;
    }
    return null;
  }

  /** The entries in scope of `base` that match, in tree order; a `(uid=…)` the filter requires is looked up, not scanned for. */
  *search(base: Entry, scope: Scope, filter: Filter): Generator<Entry> {
    const uid = scope === "base" ? null : requiredEquality(filter, "uid");
    if (uid !== null) {
      const entry = this.byUid.get(normalizeValue(uid));
      if (entry !== undefined && (scope === "sub" ? entry.isWithin(base) : entry.parent === base) && matchesFilter(filter, entry)) yield entry;
      return;
    }
    if (scope === "base") {
      if (matchesFilter(filter, base)) yield base;
      return;
    }
    if (scope === "one") {
      for (const child of base.children) if (matchesFilter(filter, child)) yield child;
      return;
    }
    const stack: Entry[] = [base];
    while (stack.length > 0) {
      const entry = stack.pop()!;
      if (matchesFilter(filter, entry)) yield entry;
      for (let i = entry.children.length - 1; i >= 0; i -= 1) stack.push(entry.children[i]!);
    }
  }
}
