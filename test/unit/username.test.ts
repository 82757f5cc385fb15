import { describe, expect, it } from "vitest";
import { isReservedUsername, isValidUsername, usernameProblem } from "../../src/username.js";

describe("usernames", () => {
  it.each(["a", "alice", "Alice.Smith", "bob_2", "carol@example.com", "d-e", "0", "x".repeat(64), "A.b_c@d-9"])(
    "accepts %j",
    (name) => {
      expect(isValidUsername(name)).toBe(true);
      expect(usernameProblem(name)).toBeNull();
    },
  );

  it.each([
    ["", /empty/],
    ["x".repeat(65), /at most 64/],
    ["bad name", /may contain only/],
    ["tab\there", /may contain only/],
    ["new\nline", /may contain only/],
    ["semi;colon", /may contain only/],
    ["slash/", /may contain only/],
    ["back\\slash", /may contain only/],
    ["plus+", /may contain only/],
    ["comma,", /may contain only/],
    ["colon:", /may contain only/],
    ["quote\"", /may contain only/],
    ["<script>", /may contain only/],
    ["émile", /may contain only/],
    ["ａlice", /may contain only/],
    ["alice\u0000", /may contain only/],
  ])("refuses %j", (name, message) => {
    expect(isValidUsername(name)).toBe(false);
    expect(usernameProblem(name)).toMatch(message);
  });

  it("never echoes control characters back in the explanation", () => {
    const problem = usernameProblem("evil\x1b[31mred\r\n") ?? "";
    expect(problem).not.toMatch(/[\x00-\x1f\x7f]/);
  });
});

describe("the name reserved for anonymous visitors", () => {
  it.each(["anonymous", "Anonymous", "ANONYMOUS", "aNoNyMoUs"])("reserves %j", (name) => {
    expect(isReservedUsername(name)).toBe(true);
  });

  it.each(["anonymous1", "anon", "anonymous.bob", "guest", "alice"])("leaves %j to users", (name) => {
    expect(isReservedUsername(name)).toBe(false);
  });
});
