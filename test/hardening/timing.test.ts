/**
 * Who exists must not show: an unknown user, a disabled user and an over-long
 * password each cost one full argon2 verification, exactly like a wrong
 * password, and get the same answer. Shown by counting verifications, not by
 * timing them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARGON2_PARAMS, dummyHash, needsRehash } from "../../src/passwords.js";
import { makeDataDir, startServer, type RunningServer, type TestDataDir } from "../support/server.js";
import { formSession, postLogin, type FormSession } from "./support.js";

describe("sign-in timing does not reveal who exists", () => {
  let data: TestDataDir;
  let server: RunningServer;
  let form: FormSession;

  beforeAll(async () => {
    data = await makeDataDir({
      users: [
        { username: "alice", password: "correct horse battery" },
        { username: "dora", password: "dora's password", disabled: true },
      ],
    });
    server = await startServer(data, { throttle: { user: { limit: 2, windowSeconds: 600, lockSeconds: 600 } } });
    form = await formSession(server);
  });
  afterAll(async () => {
    await server.close();
    data.cleanup();
  });

  async function attempt(username: string, password: string): Promise<{ status: number; alert: string; verifications: number }> {
    const before = server.login.context.signIn.verifications;
    const answer = await postLogin(server, form, { username, password });
    const alert = /role="alert">[\s\S]*?<p>([^<]*)<\/p>/.exec(answer.body)?.[1]?.trim() ?? "";
    return { status: answer.status, alert, verifications: server.login.context.signIn.verifications - before };
  }

  it("verifies an unknown user, a disabled user and an over-long password once each, like a wrong password", async () => {
    const wrong = await attempt("alice", "not the password");
    expect(wrong).toEqual({ status: 401, alert: "The username or password is incorrect.", verifications: 1 });
    expect(await attempt("nobody-here", "not the password")).toEqual(wrong);
    // The right password of a disabled user: same answer, same work.
    expect(await attempt("dora", "dora's password")).toEqual(wrong);
    expect(await attempt("bob", "x".repeat(1100))).toEqual(wrong);
    // Only the audit trail tells them apart.
    const reasons = server.auditLines.map((line) => JSON.parse(line) as { reason?: string }).map((e) => e.reason);
    expect(reasons).toEqual(["bad_password", "unknown_user", "disabled", "unknown_user"]);
  });

  it("locks an unknown username exactly as it locks a real one", async () => {
    for (let i = 0; i < 2; i += 1) await attempt("ghost", "guess guess");
    const locked = await attempt("ghost", "guess guess");
    expect(locked).toMatchObject({ status: 429, verifications: 0 });
  });

  it("checks unknown users against a dummy hash made with the current argon2id parameters", async () => {
    const hash = await dummyHash();
    expect(hash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMS.memoryCost},p=${ARGON2_PARAMS.parallelism},t=${ARGON2_PARAMS.timeCost}\\$`));
    expect(needsRehash(hash)).toBe(false);
  });
});
