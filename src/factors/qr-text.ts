/**
 * A QR code as terminal text: half blocks, two module rows per line and one column per module,
 * so the code for an otpauth:// URI is about 50 columns wide and fits an 80-column terminal.
 * Pure; no I/O.
 */
import { encode } from "uqr";

const UPPER_HALF = "\u2580";
/** Dark and light modules as ANSI colours: black and bright white, whatever the terminal's theme. */
const FG = { dark: "30", light: "97" } as const;
const BG = { dark: "40", light: "107" } as const;

/**
 * `colour`: every cell an upper half block in explicit foreground (top module) and background
 * (bottom module) colours, right on dark and light terminals alike. Without it (output to a file
 * or a pipe), plain half blocks drawn as light on a dark background, as most terminals show them.
 */
export function qrHalfBlocks(text: string, options: { colour: boolean; border?: number }): string {
  const { data } = encode(text, { border: options.border ?? 2 });
  const size = data.length;
  const dark = (x: number, y: number): boolean => y < size && data[y]![x] === true;
  const lines: string[] = [];
  for (let y = 0; y < size; y += 2) {
    let line = "";
    for (let x = 0; x < size; x++) {
      const top = dark(x, y) ? "dark" : "light";
      const bottom = y + 1 < size ? (dark(x, y + 1) ? "dark" : "light") : "light";
      if (options.colour) line += `\u001b[${FG[top]};${BG[bottom]}m${UPPER_HALF}`;
      else line += top === "light" ? (bottom === "light" ? "\u2588" : UPPER_HALF) : bottom === "light" ? "\u2584" : " ";
    }
    lines.push(options.colour ? `${line}\u001b[0m` : line);
  }
  return lines.join("\n");
}
