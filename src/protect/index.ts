/** The guarding reverse proxy behind `ssoctl protect`. */
export { startProtect, type ProtectOptions, type ProtectServer, type ProtectTimeouts } from "./server.js";
export type { SessionChecker } from "../guard/config.js";
