import { defineConfig } from "vitest/config";

// Browser end-to-end tests: playwright-core driving /usr/bin/chromium on the demo, served by the
// real server (test/browser/README.md). No --passWithNoTests: a run with no test is a failure.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
