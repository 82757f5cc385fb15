/**
 * Tests that need programs beyond the npm packages: a real PostgreSQL (started by the tests from
 * Debian's postgresql) or Apache's `htpasswd` (apache2-utils). `npm test` leaves them out, so it needs
 * nothing but the npm packages; `npm run test:e2e` runs them with the other real-server tests and
 * fails (never skips) when a program is missing.
 */
export const SYSTEM_TESTS = [
  "test/{access,cli,oidc,protect,server,state,store}/**/*postgres*.test.ts",
  "test/cli/db-copy*.test.ts",
  "test/ops/doctor.test.ts",
  "test/ops/import.test.ts",
];
