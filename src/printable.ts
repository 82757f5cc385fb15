/** Echoes user input inside a one-line error message: ASCII only, bounded, no control characters. */
export function printable(text: string, max = 200): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, max);
}
