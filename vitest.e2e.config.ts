import { defineConfig } from "vitest/config";
import { SYSTEM_TESTS } from "./vitest.system.js";

export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts", ...SYSTEM_TESTS],
    setupFiles: ["test/support/quiet.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    fileParallelism: false,
  },
});
