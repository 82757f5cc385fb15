/** Access rules: the pure decision (decide.ts), path normalisation (path.ts) and the per-origin table (table.ts). */
export * from "./decide.js";
export { accessPath, normalizeRulePath, pathCovers } from "./path.js";
export { AccessTable, rawPathOf, type AppEntry } from "./table.js";
