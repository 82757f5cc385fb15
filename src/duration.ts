const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses `90s`, `15m`, `12h`, `30d` into seconds; returns null for anything else. */
export function parseDuration(text: string): number | null {
  const match = /^([1-9][0-9]{0,8})([smhd])$/.exec(text.trim());
  if (match === null) return null;
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** Formats seconds in the largest unit that divides them exactly. */
export function formatDuration(seconds: number): string {
  for (const unit of ["d", "h", "m"] as const) {
    const size = UNITS[unit]!;
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
