/**
 * One table of (user, factors, app, method, path) → verdict cases, run against the pure
 * decision and against every guard (login server, forward auth, protect, the Node guard), so
 * that each gives the same answer for the same request.
 */
import type { AccessRule, AppAccess, Policy, Verdict } from "../../src/access/index.js";

export interface AccessCase {
  name: string;
  /** null: nobody signed in. */
  user: "alice" | "bob" | "carol" | null;
  /** Second factor done (amr beyond "pwd"). */
  secondFactor?: boolean;
  app: keyof typeof APPS;
  method: string;
  path: string;
  verdict: Verdict;
  /** What protect answers instead, where it refuses a path it cannot forward safely (400). */
  protectStatus?: number;
}

/** The users the guard tests create: alice is staff and admin, bob staff, carol in no group. */
export const USERS = {
  alice: ["staff", "admins"],
  bob: ["staff"],
  carol: [] as string[],
} as const;

function rule(id: number, path: string, options: { methods?: string[]; policy?: Policy; groups?: string[]; users?: string[] } = {}): AccessRule {
  return { id, path, methods: options.methods ?? [], policy: options.policy ?? null, groups: options.groups ?? [], users: options.users ?? [] };
}

/**
 * Each app as the CLI would set it up (see `setUpApps` in the guard tests):
 * - open: one_factor, nobody named (every app before access rules).
 * - staff: only the group staff; /admin only admins; /status bypass; POST /api only carol (by name);
 *   /closed deny.
 * - secure: two_factor for everyone; /public bypass.
 * - locked: deny.
 * - public: bypass; /private one_factor for bob only.
 * - team: only the group admins or the user carol, no rules; mfa: two_factor, no rules (both expressible
 *   as the Node guard's own options, so it runs their cases too).
 */
export const APPS = {
  open: { policy: "one_factor", groups: [], users: [], rules: [] },
  staff: {
    policy: "one_factor",
    groups: ["staff"],
    users: [],
    rules: [
      rule(1, "/admin", { groups: ["admins"] }),
      rule(2, "/status", { policy: "bypass" }),
      rule(3, "/api", { methods: ["POST"], users: ["carol"] }),
      rule(4, "/closed", { policy: "deny" }),
    ],
  },
  secure: { policy: "two_factor", groups: [], users: [], rules: [rule(5, "/public", { policy: "bypass" })] },
  locked: { policy: "deny", groups: [], users: [], rules: [] },
  public: { policy: "bypass", groups: [], users: [], rules: [rule(6, "/private", { policy: "one_factor", users: ["bob"] })] },
  team: { policy: "one_factor", groups: ["admins"], users: ["carol"], rules: [] },
  mfa: { policy: "two_factor", groups: [], users: [], rules: [] },
} satisfies Record<string, AppAccess>;

export const CASES: AccessCase[] = [
  { name: "open app, signed in", user: "carol", app: "open", method: "GET", path: "/", verdict: "allow" },
  { name: "open app, nobody", user: null, app: "open", method: "GET", path: "/x", verdict: "login" },
  { name: "staff app, staff member", user: "bob", app: "staff", method: "GET", path: "/", verdict: "allow" },
  { name: "staff app, not staff", user: "carol", app: "staff", method: "GET", path: "/", verdict: "forbidden" },
  { name: "staff app, nobody", user: null, app: "staff", method: "GET", path: "/", verdict: "login" },
  { name: "admin path, admin", user: "alice", app: "staff", method: "GET", path: "/admin/users", verdict: "allow" },
  { name: "admin path, staff but not admin", user: "bob", app: "staff", method: "GET", path: "/admin", verdict: "forbidden" },
  { name: "admin path covers /admin/x", user: "bob", app: "staff", method: "GET", path: "/admin/x", verdict: "forbidden" },
  { name: "/administrator is not under /admin", user: "bob", app: "staff", method: "GET", path: "/administrator", verdict: "allow" },
  { name: "percent-encoded admin path", user: "bob", app: "staff", method: "GET", path: "/%61dmin/x", verdict: "forbidden" },
  { name: "dot segments into admin", user: "bob", app: "staff", method: "GET", path: "/status/../admin/x", verdict: "forbidden" },
  { name: "encoded dot segments into admin", user: "bob", app: "staff", method: "GET", path: "/status/%2e%2e/admin", verdict: "forbidden" },
  { name: "double slash into admin", user: "bob", app: "staff", method: "GET", path: "/x/..//admin", verdict: "forbidden" },
  // Servlet containers route `/admin;x` to `/admin` and read `..;` as `..`: every reading is judged.
  { name: "path parameter on admin", user: "bob", app: "staff", method: "GET", path: "/admin;x", verdict: "forbidden" },
  { name: "session id parameter inside admin", user: "bob", app: "staff", method: "GET", path: "/admin;jsessionid=1/users", verdict: "forbidden" },
  { name: "encoded path parameter on admin", user: "bob", app: "staff", method: "GET", path: "/admin%3Bx/users", verdict: "forbidden" },
  { name: "dot-dot with a parameter into admin", user: "bob", app: "staff", method: "GET", path: "/status/..;/admin", verdict: "forbidden", protectStatus: 400 },
  { name: "path parameter on a deny rule", user: null, app: "staff", method: "GET", path: "/closed;a=b", verdict: "deny" },
  { name: "path parameter out of a bypass path", user: null, app: "secure", method: "GET", path: "/public/..;/admin", verdict: "login", protectStatus: 400 },
  { name: "a parameter inside an allowed path stays allowed", user: "alice", app: "staff", method: "GET", path: "/admin;v=2/users", verdict: "allow" },
  { name: "status bypass, nobody", user: null, app: "staff", method: "GET", path: "/status", verdict: "allow" },
  { name: "status bypass, not staff", user: "carol", app: "staff", method: "GET", path: "/status/health", verdict: "allow" },
  { name: "POST /api names carol", user: "carol", app: "staff", method: "POST", path: "/api/items", verdict: "allow" },
  { name: "POST /api, staff not named", user: "bob", app: "staff", method: "POST", path: "/api/items", verdict: "forbidden" },
  { name: "GET /api falls to the app", user: "bob", app: "staff", method: "GET", path: "/api/items", verdict: "allow" },
  { name: "GET /api, carol not staff", user: "carol", app: "staff", method: "GET", path: "/api/items", verdict: "forbidden" },
  { name: "deny rule, admin", user: "alice", app: "staff", method: "GET", path: "/closed", verdict: "deny" },
  { name: "deny rule, nobody", user: null, app: "staff", method: "GET", path: "/closed/x", verdict: "deny" },
  { name: "two_factor, password only", user: "bob", app: "secure", method: "GET", path: "/", verdict: "second_factor" },
  { name: "two_factor, second factor done", user: "bob", secondFactor: true, app: "secure", method: "GET", path: "/", verdict: "allow" },
  { name: "two_factor, nobody", user: null, app: "secure", method: "GET", path: "/", verdict: "login" },
  { name: "two_factor app, bypass path", user: null, app: "secure", method: "GET", path: "/public/a", verdict: "allow" },
  { name: "deny app, signed in", user: "alice", app: "locked", method: "GET", path: "/", verdict: "deny" },
  { name: "deny app, nobody", user: null, app: "locked", method: "GET", path: "/", verdict: "deny" },
  { name: "bypass app, nobody", user: null, app: "public", method: "GET", path: "/", verdict: "allow" },
  { name: "bypass app, signed in", user: "carol", app: "public", method: "GET", path: "/", verdict: "allow" },
  { name: "bypass app, private path, nobody", user: null, app: "public", method: "GET", path: "/private", verdict: "login" },
  { name: "bypass app, private path, named user", user: "bob", app: "public", method: "GET", path: "/private/x", verdict: "allow" },
  { name: "bypass app, private path, other user", user: "carol", app: "public", method: "GET", path: "/private/x", verdict: "forbidden" },
  { name: "team app, in the group", user: "alice", app: "team", method: "GET", path: "/", verdict: "allow" },
  { name: "team app, named user", user: "carol", app: "team", method: "POST", path: "/x", verdict: "allow" },
  { name: "team app, neither", user: "bob", app: "team", method: "GET", path: "/x", verdict: "forbidden" },
  { name: "team app, nobody", user: null, app: "team", method: "GET", path: "/", verdict: "login" },
  { name: "mfa app, password only", user: "alice", app: "mfa", method: "GET", path: "/", verdict: "second_factor" },
  { name: "mfa app, second factor done", user: "alice", secondFactor: true, app: "mfa", method: "GET", path: "/", verdict: "allow" },
  { name: "open app, POST", user: "bob", app: "open", method: "POST", path: "/form", verdict: "allow" },
];

/** The HTTP answer each guard gives for a verdict. */
export function expectedStatus(guard: "auth-request" | "auth-forward" | "protect", verdict: string): number {
  if (verdict === "allow") return 200;
  if (verdict === "forbidden" || verdict === "deny") return 403;
  // login, second_factor: to the login page.
  return guard === "protect" ? 302 : 401;
}
