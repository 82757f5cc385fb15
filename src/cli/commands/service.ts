/** `ssoctl service unit`: the hardened systemd unit shipped in the package (contrib/ssoctl.service). */
import { Command } from "commander";
import { readFileSync } from "node:fs";

export const UNIT_FILE = new URL("../../../contrib/ssoctl.service", import.meta.url);

export function serviceCommand(): Command {
  const service = new Command("service").description("run ssoctl as a system service");
  service
    .command("unit")
    .description("print the systemd unit (install it as /etc/systemd/system/ssoctl.service; README, \"Run it as a service\")")
    .action(() => {
      process.stdout.write(readFileSync(UNIT_FILE, "utf8"));
    });
  return service;
}
