import { defineConfig } from "vitest/config";

// Unit tests only: no server, no browser. Integration and browser tests have their own configs.
export default defineConfig({
  test: {
    include: ["test/*.test.ts"],
    environment: "node",
  },
});
