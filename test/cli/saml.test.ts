/** `ssoctl saml add | list | remove`, and the SAML key through `init` and `key rotate`, as a user runs them. */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeSp } from "../saml/support.js";
import { copyDataDir, expectError, expectOk, initDataDir, query, snapshot, ssoctl, tempDir } from "./helpers.js";

let template: string;
const WIKI = "https://wiki.example.com";

beforeAll(() => {
  template = initDataDir();
  expectOk(ssoctl(["app", "add", WIKI, "--name", "wiki", "--data-dir", template]));
});

function metadataFile(xml: string): string {
  const file = path.join(tempDir(), "sp.xml");
  fs.writeFileSync(file, xml);
  return file;
}

describe("ssoctl saml", () => {
  it("registers an SP from a metadata file as part of an app, lists it and removes it", () => {
    const dir = copyDataDir(template);
    const sp = makeSp(WIKI, { signs: true, extraAcs: `${WIKI}/acs2` });
    const added = ssoctl(["saml", "add", "wiki", "--metadata", metadataFile(sp.metadata), "--data-dir", dir]);
    expectOk(added);
    expect(added.stdout).toContain(`Added SAML SP ${sp.entityId} (access rules of ${WIKI})`);
    expect(added.stdout).toContain(`ACS 0 (default): ${sp.acs}`);
    expect(added.stdout).toContain("signs its requests: yes (unsigned ones are refused)");
    const list = ssoctl(["saml", "list", "--json", "--data-dir", dir]);
    expectOk(list);
    expect(JSON.parse(list.stdout)).toEqual([{ entity_id: sp.entityId, app: WIKI, acs: [sp.acs, `${WIKI}/acs2`], idp_initiated: false, created: expect.any(String) }]);
    expect(ssoctl(["saml", "list", "--data-dir", dir]).stdout).toMatch(/ENTITY ID\s+APP\s+ACS/);
    expectOk(ssoctl(["saml", "remove", sp.entityId, "--data-dir", dir]));
    expect(query(dir, "SELECT * FROM saml_sps")).toEqual([]);
  });

  it("refuses an SP of no registered app, metadata that is not an SP's, a duplicate, and an unknown SP to remove, changing nothing", () => {
    const dir = copyDataDir(template);
    const sp = makeSp(WIKI);
    const before = snapshot(dir);
    expectError(ssoctl(["saml", "add", "https://nope.example.com", "--metadata", metadataFile(sp.metadata), "--data-dir", dir]), 1, /no app "https:\/\/nope.example.com" is registered/);
    expectError(ssoctl(["saml", "add", WIKI, "--metadata", metadataFile(sp.metadata.replace(/SPSSODescriptor/g, "IDPSSODescriptor")), "--data-dir", dir]), 1, /metadata is not usable: the metadata has no SPSSODescriptor/);
    expectError(ssoctl(["saml", "add", WIKI, "--metadata", metadataFile("<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>"), "--data-dir", dir]), 1, /document type declaration/);
    expectError(ssoctl(["saml", "add", WIKI, "--metadata", "/nonexistent/sp.xml", "--data-dir", dir]), 1, /cannot read the metadata file/);
    expect(snapshot(dir)).toEqual(before);
    expect(query(dir, "SELECT * FROM saml_sps")).toEqual([]);
    expectOk(ssoctl(["saml", "add", WIKI, "--metadata", metadataFile(sp.metadata), "--data-dir", dir]));
    expectError(ssoctl(["saml", "add", WIKI, "--metadata", metadataFile(sp.metadata), "--data-dir", dir]), 1, /registered already/);
    expectError(ssoctl(["saml", "remove", "https://other.example.com/sp", "--data-dir", dir]), 1, /no SAML SP with the entity ID/);
  });

  it("warns about an ACS that is not on https", () => {
    const dir = copyDataDir(template);
    expectOk(ssoctl(["app", "add", "http://intranet.example.com", "--data-dir", dir]));
    const added = ssoctl(["saml", "add", "http://intranet.example.com", "--metadata", metadataFile(makeSp("http://intranet.example.com").metadata), "--data-dir", dir]);
    expectOk(added);
    expect(added.stdout).toContain("warning: the ACS http://intranet.example.com/acs is not on https");
  });

  it("makes the signing key at init, and key rotate keeps the previous certificate published", () => {
    const dir = copyDataDir(template);
    const read = (): { current: { certificate: string }; retired: Array<{ certificate: string }> } => JSON.parse(query<{ value: string }>(dir, "SELECT value FROM settings WHERE key = 'saml_signing_keys'")[0]!.value);
    const first = read();
    expect(first.current.certificate).toContain("BEGIN CERTIFICATE");
    const rotated = ssoctl(["key", "rotate", "--grace", "1h", "--data-dir", dir]);
    expectOk(rotated);
    expect(rotated.stdout).toMatch(/Rotated the SAML signing key \(new certificate SHA-256 [0-9A-F:]+\); both certificates are in \/saml\/metadata for 1h/);
    const second = read();
    expect(second.current.certificate).not.toBe(first.current.certificate);
    expect(second.retired.map((r) => r.certificate)).toEqual([first.current.certificate]);
  });
});
