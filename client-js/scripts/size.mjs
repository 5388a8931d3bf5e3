// Builds the minified browser bundle of the SDK (msgpack included) in memory, gzips it, prints
// the size and fails above the budget (style item 23: aim <= 20 KB gzipped).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const LIMIT = 20 * 1024;
const root = fileURLToPath(new URL("..", import.meta.url));
const out = await build({
  entryPoints: [root + "src/index.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  write: false,
  logLevel: "error",
});
const code = out.outputFiles[0].contents;
const gz = gzipSync(code, { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1) + " KiB";
console.log(`browser bundle: ${kb(code.length)} minified, ${kb(gz)} gzipped (limit ${kb(LIMIT)})`);
if (gz > LIMIT) {
  console.error("over the size budget");
  process.exit(1);
}
