import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The npm package: ESM + CJS with types; @msgpack/msgpack stays a dependency.
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "es2020",
    outDir: "dist",
  },
  {
    // One self-contained ES module for pages without a bundler (the demo loads it from /sdk/).
    entry: { tickrelay: "src/index.ts" },
    format: ["esm"],
    platform: "browser",
    target: "es2020",
    minify: true,
    sourcemap: true,
    noExternal: ["@msgpack/msgpack"],
    outDir: "dist/browser",
    outExtension: () => ({ js: ".js" }),
  },
]);
