import { describe, expect, it } from "vitest";
import { SsoctlError } from "../../src/errors.js";
import { describePostgresError, parsePostgresUrl, redactUrl } from "../../src/store/postgres/connection.js";

describe("parsePostgresUrl", () => {
  it.each([
    ["postgres://alice:pw@db.example:5433/sso", "alice@db.example:5433/sso"],
    ["postgresql://alice@db.example/sso", "alice@db.example:5432/sso"],
    ["postgres://postgres@localhost/ssoctl?host=%2Ftmp%2Fpg", "postgres@socket /tmp/pg/ssoctl"],
    ["postgres://db.example/my%20db", "db.example:5432/my db"],
    // libpq's forms, as pg's own parser reads them.
    ["postgresql://alice@/sso?host=/run/postgresql", "alice@socket /run/postgresql/sso"],
    ["postgresql://%2Frun%2Fpostgresql/sso", "socket /run/postgresql/sso"],
    ["postgresql://alice@[::1]:5433/sso", "alice@[::1]:5433/sso"],
    ["postgresql://db.example/sso?port=5999&user=bob", "bob@db.example:5999/sso"],
    ["postgres://alice:pa ss=;[]^|\"<>{}@db.example/sso", "alice@db.example:5432/sso"],
  ])("reads %s as %s, without the password", (url, where) => {
    expect(parsePostgresUrl(url).where).toBe(where);
  });

  it("reads an empty host as pg does: PGHOST, else localhost", () => {
    const saved = process.env.PGHOST;
    delete process.env.PGHOST;
    try {
      expect(parsePostgresUrl("postgresql:///sso").where).toBe("localhost:5432/sso");
    } finally {
      if (saved !== undefined) process.env.PGHOST = saved;
    }
  });

  it.each([
    ["mysql://u:pw@h/db", /is not a PostgreSQL URL/],
    ["postgres://u:pw@[::1/db", /is not a well-formed URL/],
    ["postgres://u:pw@h/", /names no database/],
    ["postgres://u:pw@h", /names no database/],
    ["postgres://u:pw@h/a/b", /names no database/],
    ["postgres://u:pw@h/db?port=abc", /names no valid port/],
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
    ["postgres://alice:s3cret@[bad/db", "postgres://alice:***@[bad/db"],
    ["postgres://alice:s3 cr=;[]^|\"<>{}et@h/db", "postgres://alice:***@h/db"],
    ["postgres://alice:s3@cr:et@h/db", "postgres://alice:***@h/db"],
    ["postgres://h:5432/db", "postgres://h:5432/db"],
    ["no url at all s3cret", "(not a URL)"],
    ["postgres:alice:s3cret@h/db", "postgres://…"],
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
