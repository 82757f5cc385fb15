import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../src/duration.js";

describe("parseDuration", () => {
  it.each([
    ["90s", 90],
    ["15m", 900],
    ["12h", 43200],
    ["30d", 2592000],
  ])("reads %s as %i seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "12", "0s", "-5m", "1.5h", "12 h", "12H", "1w", "h", "12hh"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it("formats in the largest exact unit", () => {
    expect(formatDuration(86400)).toBe("1d");
    expect(formatDuration(5400)).toBe("90m");
    expect(formatDuration(61)).toBe("61s");
  });
});
