/** Listings: an aligned table for people, `--json` (an array of objects) for programs. */

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

export function formatTable<T>(rows: Iterable<T>, columns: Column<T>[]): string {
  const cells = [columns.map((c) => c.header)];
  for (const row of rows) cells.push(columns.map((c) => printable(c.value(row))));
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n";
}

/** Writes a JSON array one element at a time, so a large listing never sits in memory as one string. */
export function writeJsonArray<T>(rows: Iterable<T>, write: (text: string) => void): void {
  let first = true;
  let buffer = "[";
  for (const row of rows) {
    buffer += (first ? "\n  " : ",\n  ") + JSON.stringify(row);
    first = false;
    if (buffer.length > 65536) {
      write(buffer);
      buffer = "";
    }
  }
  write(buffer + (first ? "]\n" : "\n]\n"));
}

export function isoTime(seconds: number | null): string | null {
  return seconds === null ? null : new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Control characters never reach the terminal from data. */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
}
