import { describe, expect, it } from "vitest";
import { SsoctlError } from "../../src/errors.js";
import { describePostgresError, parsePostgresUrl, redactUrl } from "../../src/store/postgres/connection.js";

describe("parsePostgresUrl", () => {
  it.each([
    ["postgres://alice:pw@db.example:5433/sso", "alice@db.example:5433/sso"],
    ["postgresql://alice@db.example/sso", "alice@db.example:5432/sso"],
    ["postgres://postgres@localhost/ssoctl?host=%2Ftmp%2Fpg", "postgres@socket /tmp/pg/ssoctl"],
    ["postgres://db.example/my%20db", "db.example:5432/my db"],
  ])("reads %s as %s, without the password", (url, where) => {
    expect(parsePostgresUrl(url).where).toBe(where);
  });

  it.each([
    ["mysql://u:pw@h/db", /is not a PostgreSQL URL/],
    ["postgres://u:pw@[::1/db", /is not a well-formed URL/],
    ["postgres://u:pw@h/", /names no database/],
    ["postgres://u:pw@h", /names no database/],
    ["postgres://u:pw@h/a/b", /names no database/],
    ["postgres:///db", /names no host/],
  ])("refuses %s as a usage error that never shows the password", (url, message) => {
    let error: unknown;
    try {
      parsePostgresUrl(url);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SsoctlError);
    expect((error as SsoctlError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/:pw@/);
    expect((error as Error).message).toContain("SSOCTL_DATABASE_URL");
  });
});

describe("redactUrl", () => {
  it.each([
    ["postgres://alice:s3cret@h/db", "postgres://alice:***@h/db"],
    ["postgres://alice@h/db", "postgres://alice@h/db"],
    ["postgres://alice:s3cret@[bad/db", "postgres://…"],
    ["no url at all s3cret", "(not a URL)"],
  ])("%s → %s", (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe("describePostgresError", () => {
  const target = parsePostgresUrl("postgres://alice:pw@db.example/sso");
  it.each([
    [{ code: "28P01", message: "password authentication failed for user \"alice\"" }, /refused the password for alice@db\.example:5432\/sso; check the password/],
    [{ code: "3D000", message: "database \"sso\" does not exist" }, /the database "sso" does not exist on db\.example:5432; create it \(createdb sso\)/],
    [{ code: "ECONNREFUSED", message: "connect ECONNREFUSED" }, /connection refused; is PostgreSQL running there\?/],
    [{ code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND" }, /the host of db\.example:5432 is unknown/],
    [{ message: "Connection terminated due to connection timeout" }, /no answer from PostgreSQL at db\.example:5432 within 5 s/],
    [{ message: "Connection terminated unexpectedly" }, /the connection to PostgreSQL at db\.example:5432 was lost/],
  ])("names the problem and what to do: %o", (error, message) => {
    const text = describePostgresError(error, target);
    expect(text).toMatch(message);
    expect(text).not.toContain("\n");
  });
});
