import { Command } from "commander";

/** `serve`, `protect` and `demo`: the long-running commands. */
export function serverCommands(): Command[] {
  return [];
}
