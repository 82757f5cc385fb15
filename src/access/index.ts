/**
 * Access rules (DESIGN §11): who may use which app.
 *
 * - `decideAccess({ user, amr, app, method, path })` → `{ verdict, ruleId, policy, reason }`:
 *   the one pure decision (decide.ts); verdicts `allow | login | second_factor | forbidden | deny`.
 * - `AccessTable` (table.ts): every app's policy and rules by origin, built from
 *   `store.listApps()` + `store.listRules()`; `table.decide({ user, amr, method, origin, path })`.
 * - At the login server, use the cached table through `ServerContext.decideAccess(login, method, url)`
 *   (reloaded whenever the store's change counter moves), and for a browser-facing endpoint
 *   `passAccessGate(ctx, req, res, { login, url, via })` (src/server/access-gate.ts), which audits a
 *   refusal and answers the 403 page or the second-factor step.
 * - Path normalisation and rule paths: path.ts. CLI-side validation and changes: admin.ts.
 */
export * from "./decide.js";
export { accessPath, normalizeRulePath, pathCovers } from "./path.js";
export { AccessTable, rawPathOf, type AppEntry } from "./table.js";
