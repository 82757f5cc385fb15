import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Client } from "ldapts";
import { BASE, startLdapFixture, type LdapFixture } from "./support.js";

// Several binds per test each wait for argon2, which a loaded machine makes slow.
vi.setConfig({ testTimeout: 90_000 });

let fx: LdapFixture;
beforeAll(async () => {
  fx = await startLdapFixture({ sizeLimit: 5 });
});
afterAll(async () => {
  await fx?.close();
});

async function client(): Promise<Client> {
  return new Client({ url: fx.url, timeout: 25_000, connectTimeout: 10_000 });
}

async function asService(work: (c: Client) => Promise<void>, account: "media" | "admin" = "media"): Promise<void> {
  const c = await client();
  try {
    await c.bind(fx.accounts[account].dn, fx.accounts[account].password);
    await work(c);
  } finally {
    await c.unbind();
  }
}

async function uids(c: Client, filter: string, base = BASE, scope: "base" | "one" | "sub" = "sub"): Promise<string[]> {
  const { searchEntries } = await c.search(base, { scope, filter, attributes: ["uid", "cn"] });
  return searchEntries.map((e) => String(e.uid ?? `cn=${String(e.cn)}`)).sort();
}

async function codeOf(work: Promise<unknown>): Promise<number | string> {
  try {
    await work;
    return "ok";
  } catch (error) {
    return (error as { code?: number }).code ?? `${String(error)}`;
  }
}

describe("searches by an app's service account", () => {
  it("finds one user by uid with the attributes apps read", async () => {
    await asService(async (c) => {
      const { searchEntries } = await c.search(`ou=people,${BASE}`, { scope: "sub", filter: "(uid=alice)", attributes: ["uid", "cn", "displayName", "mail", "memberOf", "entryUUID", "objectClass"] });
      expect(searchEntries).toHaveLength(1);
      const alice = searchEntries[0]!;
      expect(alice.dn).toBe(`uid=alice,ou=people,${BASE}`);
      expect(alice.mail).toBe("alice@example.org");
      expect(alice.displayName).toBe("Alice Example");
      expect(alice.memberOf).toEqual([`cn=admins,ou=groups,${BASE}`, `cn=staff,ou=groups,${BASE}`]);
      expect(alice.objectClass).toContain("inetOrgPerson");
      expect(String(alice.entryUUID)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    });
  });

  it("matches filters as slapd does: and, or, not, presence, substrings, ordering, case", async () => {
    await asService(async (c) => {
      expect(await uids(c, "(UID=ALICE)")).toEqual(["alice"]);
      expect(await uids(c, "(&(objectClass=inetOrgPerson)(memberOf=cn=staff,ou=groups,dc=example,dc=org))")).toEqual(["alice", "bob", "dave"]);
      expect(await uids(c, "(|(uid=bob)(mail=dave@example.org))")).toEqual(["bob", "dave"]);
      expect(await uids(c, "(&(objectClass=person)(!(uid=alice)))")).toEqual(["bob", "dave"]);
      expect(await uids(c, "(&(uid=*)(mail=*@example.org))")).toEqual(["alice", "bob", "dave"]);
      expect(await uids(c, "(cn=*Ex*le)")).toEqual(["alice"]);
      expect(await uids(c, "(&(uid>=b)(uid<=c))")).toEqual(["bob"]);
    });
  });

  it("hides disabled users, and escaped filter values find nobody", async () => {
    await asService(async (c) => {
      expect(await uids(c, "(uid=carol)")).toEqual([]);
      expect(await uids(c, "(uid=\\2a\\29\\28uid=\\2a)")).toEqual([]);
    });
  });

  it("walks base, one-level and subtree scopes and lists groups with their members", async () => {
    await asService(async (c) => {
      expect(await uids(c, "(objectClass=*)", `uid=bob,ou=people,${BASE}`, "base")).toEqual(["bob"]);
      const top = await c.search(BASE, { scope: "one", filter: "(objectClass=*)", attributes: ["ou"] });
      expect(top.searchEntries.map((e) => e.dn).sort()).toEqual([`ou=groups,${BASE}`, `ou=people,${BASE}`]);
      const { searchEntries } = await c.search(`ou=groups,${BASE}`, { scope: "one", filter: "(objectClass=groupOfNames)", attributes: ["cn", "member", "uniqueMember"] });
      const admins = searchEntries.find((e) => e.cn === "admins")!;
      expect(admins.member).toBe(`uid=alice,ou=people,${BASE}`);
      expect(admins.uniqueMember).toBe(`uid=alice,ou=people,${BASE}`);
      expect(searchEntries.map((e) => e.cn).sort()).toEqual(["admins", "staff"]);
      expect(await codeOf(c.search(`ou=nowhere,${BASE}`, { filter: "(objectClass=*)" }))).toBe(32);
    });
  });

  it("ends at the client's and the server's size limit, and pages through more", async () => {
    await asService(async (c) => {
      expect((await c.search(BASE, { filter: "(objectClass=inetOrgPerson)", sizeLimit: 2 })).searchEntries).toHaveLength(2);
      expect(await codeOf(c.search(BASE, { filter: "(objectClass=*)" }))).toBe(4);
      const { searchEntries } = await c.search(BASE, { filter: "(objectClass=*)", paged: { pageSize: 2 } });
      expect(searchEntries.length).toBe(8);
      expect(new Set(searchEntries.map((e) => e.dn)).size).toBe(8);
    });
  });

  it("answers Compare as Apache's group check asks it", async () => {
    await asService(async (c) => {
      expect(await c.compare(`cn=admins,ou=groups,${BASE}`, "member", `uid=alice,ou=people,${BASE}`)).toBe(true);
      expect(await c.compare(`cn=admins,ou=groups,${BASE}`, "member", `UID=Bob, ou=people,${BASE}`)).toBe(false);
      expect(await c.compare(`cn=admins,ou=groups,${BASE}`, "objectClass", "groupOfNames")).toBe(true);
    });
  });

  it("refuses every write with unwillingToPerform", async () => {
    await asService(async (c) => {
      expect(await codeOf(c.add(`uid=eve,ou=people,${BASE}`, { objectClass: "inetOrgPerson", uid: "eve", cn: "Eve", sn: "Eve" }))).toBe(53);
      expect(await codeOf(c.del(`uid=bob,ou=people,${BASE}`))).toBe(53);
      expect(await codeOf(c.modifyDN(`uid=bob,ou=people,${BASE}`, "uid=rob"))).toBe(53);
    });
  });
});

describe("what anonymous clients and users may read", () => {
  it("shows anonymous clients the root DSE only", async () => {
    const c = await client();
    try {
      const { searchEntries } = await c.search("", { scope: "base", filter: "(objectClass=*)" });
      expect(searchEntries[0]!.namingContexts).toBe(BASE);
      expect(searchEntries[0]!.supportedExtension).toContain("1.3.6.1.4.1.4203.1.11.3");
      expect(await codeOf(c.search(BASE, { filter: "(uid=alice)" }))).toBe(50);
    } finally {
      await c.unbind();
    }
  });

  it("shows a bound user their own entry only", async () => {
    await asService(async (c) => {
      await c.bind(`uid=bob,ou=people,${BASE}`, "bob-pass-12");
      expect(await uids(c, "(objectClass=inetOrgPerson)")).toEqual(["bob"]);
    });
  });
});

describe("user binds", () => {
  it("checks a user's password through the app's service account", async () => {
    await asService(async (c) => {
      expect(await codeOf(c.bind(`uid=alice,ou=people,${BASE}`, "alice-pass-1"))).toBe("ok");
      expect((await c.exop("1.3.6.1.4.1.4203.1.11.3")).value).toBe(`dn:uid=alice,ou=people,${BASE}`);
      await c.bind(fx.accounts.media.dn, fx.accounts.media.password);
      expect(await codeOf(c.bind(`uid=alice,ou=people,${BASE}`, "wrong-password"))).toBe(49);
      expect(await codeOf(c.bind(`uid=nobody,ou=people,${BASE}`, "whatever-1"))).toBe(49);
      expect(await codeOf(c.bind(`uid=carol,ou=people,${BASE}`, "carol-pass-1"))).toBe(49);
    });
  });

  it("refuses a user the service account's app does not admit", async () => {
    await asService(async (c) => {
      expect(await codeOf(c.bind(`uid=alice,ou=people,${BASE}`, "alice-pass-1"))).toBe("ok");
      await c.bind(fx.accounts.admin.dn, fx.accounts.admin.password);
      expect(await codeOf(c.bind(`uid=bob,ou=people,${BASE}`, "bob-pass-12"))).toBe(49);
    }, "admin");
    const denied = fx.server.auditLines.map((l) => JSON.parse(l)).find((e) => e.event === "access.denied" && e.user === "bob");
    expect(denied).toMatchObject({ app: "https://admin.example.org", via: "ldap", reason: "not_allowed" });
  });

  it("refuses a user bind with no service account bound before", async () => {
    const c = await client();
    try {
      expect(await codeOf(c.bind(`uid=alice,ou=people,${BASE}`, "alice-pass-1"))).toBe(49);
    } finally {
      await c.unbind();
    }
  });

  it("takes only an app password from a user with a second factor", async () => {
    await asService(async (c) => {
      expect(await codeOf(c.bind(`uid=dave,ou=people,${BASE}`, "dave-pass-12"))).toBe(49);
      await c.bind(fx.accounts.media.dn, fx.accounts.media.password);
      expect(await codeOf(c.bind(`uid=dave,ou=people,${BASE}`, fx.daveAppPassword))).toBe("ok");
      await c.bind(fx.accounts.media.dn, fx.accounts.media.password);
      expect(await codeOf(c.bind(`uid=dave,ou=people,${BASE}`, fx.daveAppPassword.toUpperCase().replaceAll("-", "")))).toBe("ok");
      await c.bind(fx.accounts.media.dn, fx.accounts.media.password);
      expect(await codeOf(c.bind(`uid=bob,ou=people,${BASE}`, fx.daveAppPassword))).toBe(49);
    });
  });

  it("refuses a wrong service password, SASL and an unauthenticated bind", async () => {
    const c = await client();
    try {
      expect(await codeOf(c.bind(fx.accounts.media.dn, "not-the-secret"))).toBe(49);
      expect(await codeOf(c.bind(`uid=alice,ou=people,${BASE}`, ""))).toBe(53);
      expect(await codeOf(c.bind("not a dn", "x"))).toBe(34);
    } finally {
      await c.unbind();
    }
  });
});
