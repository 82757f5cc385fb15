/** The systemd unit as README shows it and the package ships it, checked by the real systemd-analyze. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, ssoctl } from "../cli/helpers.js";
import { readmeSectionBlock } from "../support/readme-section.js";

const UNIT = fs.readFileSync(path.join(ROOT, "contrib", "ssoctl.service"), "utf8");

function analyze(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssoctl-unit-"));
  const file = path.join(dir, "ssoctl.service");
  fs.writeFileSync(file, UNIT);
  const result = spawnSync("systemd-analyze", [...args, file], { encoding: "utf8", timeout: 60_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (result.error !== undefined) throw new Error(`systemd-analyze is needed (apt-get install systemd): ${result.error.message}`);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the systemd unit", () => {
  it("is the same in the README, in contrib/ and from `ssoctl service unit`", () => {
    expect(readmeSectionBlock("Run it as a service", "ini", "[Service]")).toBe(UNIT);
    const printed = ssoctl(["service", "unit"]);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(UNIT);
  });

  it("passes systemd-analyze verify with nothing to say", () => {
    // Unknown keys and bad values are printed with exit status 0: the output must be empty too.
    expect(analyze(["verify"])).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("reaches the exposure the README gives", () => {
    const result = analyze(["security", "--offline=true", "--threshold=20"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Overall exposure level for ssoctl\.service: 1\.3 OK/);
    expect(fs.readFileSync(path.join(ROOT, "README.md"), "utf8")).toContain("rates it **1.3 OK**");
  });

  it("runs as a dedicated user with the state and config directories and the hardening it promises", () => {
    for (const line of ["User=ssoctl", "StateDirectory=ssoctl", "ConfigurationDirectory=ssoctl", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]) {
      expect(UNIT.split("\n")).toContain(line);
    }
    expect(UNIT).not.toMatch(/^MemoryDenyWriteExecute=/m);
  });
});
