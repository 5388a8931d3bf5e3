// The root README's SDK program, run verbatim: extracted from README.md (the ```js block after
// the "quickstart.mjs" marker), installed the way the README says (the `npm pack` tarball,
// unpacked as node_modules/@tickrelay/client, its dependency and `ws` linked from this
// package's node_modules: no registry needed), and run with node against the real server. It
// must print what it promises and exit 0 by itself.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { REPO_ROOT, useServer } from "./server.js";

const server = useServer();
const PKG = fileURLToPath(new URL("../../", import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number }): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

describe("README quickstart", () => {
  it("runs verbatim against the real server and exits by itself", async () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    const m = /<!-- quickstart\.mjs[^\n]*-->\n```js\n([\s\S]*?)```/.exec(readme);
    if (!m) throw new Error("README.md has no ```js block after the quickstart.mjs marker");
    const dir = mkdtempSync(join(tmpdir(), "tickrelay-quickstart-"));
    dirs.push(dir);
    writeFileSync(join(dir, "quickstart.mjs"), m[1]!);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "quickstart", private: true, type: "module" }));

    const pack = await run("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: PKG, timeout: 120_000 });
    expect(pack.code, pack.out).toBe(0);
    const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    expect(tgz, `npm pack wrote no tarball: ${pack.out}`).toBeTruthy();
    const target = join(dir, "node_modules/@tickrelay/client");
    mkdirSync(target, { recursive: true });
    const untar = await run("tar", ["-xzf", join(dir, tgz!), "-C", target, "--strip-components=1"], { cwd: dir, timeout: 30_000 });
    expect(untar.code, untar.out).toBe(0);
    symlinkSync(join(PKG, "node_modules/@msgpack"), join(dir, "node_modules/@msgpack"));
    symlinkSync(join(PKG, "node_modules/ws"), join(dir, "node_modules/ws"));

    const r = await run("node", ["quickstart.mjs"], { cwd: dir, env: { TICKRELAY_URL: server().url }, timeout: 20_000 });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/joined m-\S+ as player 1, at \{ x: [\d.]+, y: [\d.]+ \}/);
    expect(r.out).toMatch(/input 1 applied: now at \{ x: [\d.]+, y: [\d.]+ \}/);
  });
});
