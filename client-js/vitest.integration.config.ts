import { defineConfig } from "vitest/config";

// Integration tests: the real server binary (built from ../server/cmd/tickrelay) on 127.0.0.1.
export default defineConfig({
  test: {
    include: ["test/integration/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
