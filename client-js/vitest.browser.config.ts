import { defineConfig } from "vitest/config";

// Browser end-to-end tests (phase 2: playwright-core driving /usr/bin/chromium on the demo).
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
