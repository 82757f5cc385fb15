import { defineConfig } from "vitest/config";
import { SYSTEM_TESTS } from "./vitest.system.js";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "node_modules/**", ...SYSTEM_TESTS],
    setupFiles: ["test/support/quiet.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
