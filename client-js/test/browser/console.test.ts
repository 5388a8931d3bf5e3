// The operators' console in Chromium against a real two-instance cluster: one redis-server
// (Debian's, on a free port, no persistence, stopped by PID) and two tickrelay processes with
// --redis, each with its admin listener and the operator key. Two SDK players (Node) play a
// relay match owned by instance A, one connected to A and one to B (relayed). The console on
// B's admin listener: log in, see both instances, see the match with its two players, open it
// (members and live state), save a screenshot, end the match, see it gone.
//
// Nothing skips: no chromium, no redis-server or a server that won't start fails the test.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { Client, type Match } from "../../src/index.js";
import { freePort, startServer, stopAll } from "../integration/server.js";

const CHROMIUM = process.env.TICKRELAY_CHROMIUM || "/usr/bin/chromium";
const REDIS = "/usr/bin/redis-server";
const PKG = fileURLToPath(new URL("../../", import.meta.url));
const SHOTS = join(PKG, "test/browser/screenshots");
const KEY = "console-browser-test-operator-key-0123456789";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let redis: ChildProcess | null = null;
let profile: string | null = null;
let browserCtx: BrowserContext | null = null;
const players: Client[] = [];

afterAll(async () => {
  if (browserCtx) await Promise.race([browserCtx.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
  await stopAll();
  if (redis?.pid && redis.exitCode === null) {
    const gone = new Promise((r) => redis!.once("exit", r));
    process.kill(redis.pid, "SIGKILL");
    await gone;
  }
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Starts redis-server on a free port and resolves once it answers PING. */
async function startRedis(): Promise<number> {
  if (!existsSync(REDIS)) throw new Error(`redis-server missing (${REDIS}): run make deps`);
  const port = await freePort();
  redis = spawn(REDIS, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const pong = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.setTimeout(1000);
      s.once("connect", () => s.write("PING\r\n"));
      s.once("data", (d) => {
        s.destroy();
        resolve(d.toString().startsWith("+PONG"));
      });
      s.once("error", () => resolve(false));
      s.once("timeout", () => {
        s.destroy();
        resolve(false);
      });
    });
    if (pong) return port;
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer PING within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function player(url: string, name: string, target: string | null): Promise<Match> {
  const c = new Client({ url, connection: { WebSocket } });
  players.push(c);
  await c.authGuest(name);
  const t = target ?? (await c.createMatch({ game: "relay", label: { mode: "console-test" } })).reservation;
  return c.join(t);
}

describe("operators' console in chromium", () => {
  it("log in, two instances, a running match with its players, end it, see it gone; screenshot", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium missing: run make deps (no ${CHROMIUM})`);
    const redisPort = await startRedis();
    const instance = async (node: string) => {
      const admin = await freePort();
      const srv = await startServer({
        args: ["--redis", `127.0.0.1:${redisPort}`, "--node", node, "--admin", `127.0.0.1:${admin}`, "--api-key", KEY, "--drain-delay", "0s"],
      });
      return { srv, admin: `http://127.0.0.1:${admin}` };
    };
    const a = await instance("node-a");
    const b = await instance("node-b");

    const ann = await player(a.srv.url, "ann", null);
    const bob = await player(b.srv.url, "bob", ann.id); // on B, relayed to A
    expect(ann.id).toMatch(/^m-/);

    profile = mkdtempSync(join(tmpdir(), "tickrelay-console-chromium-"));
    browserCtx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1400, height: 900 },
      timeout: 30_000,
    });
    const page = browserCtx.pages()[0] ?? (await browserCtx.newPage());
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
    page.on("dialog", (d) => void d.accept());

    await page.goto(`${b.admin}/console/`);
    // The URL never carries the key: it goes in the login request's body.
    await page.locator("#login").waitFor({ state: "visible" });
    await page.fill("#name", "playwright");
    await page.fill("#key", "not the key");
    await page.click("#loginButton");
    await page.waitForFunction(() => document.getElementById("loginError")!.textContent!.includes("wrong operator key"));
    await page.fill("#key", KEY);
    await page.click("#loginButton");
    await page.locator("#app").waitFor({ state: "visible" });
    expect(page.url()).not.toContain(KEY);
    const cookies = await browserCtx.cookies();
    const ck = cookies.find((c) => c.name === "tickrelay_console");
    expect(ck?.httpOnly).toBe(true);
    expect(ck?.sameSite).toBe("Strict");
    expect(await page.evaluate(() => document.cookie)).toBe(""); // HttpOnly: not readable by scripts

    // Both instances, with health and their figures.
    await page.waitForFunction(() => document.querySelectorAll("#instances tbody tr").length === 2, null, { timeout: 15_000 });
    const nodes = await page.$$eval("#instances tbody tr", (rows) => rows.map((r) => (r as HTMLElement).dataset.node));
    expect(nodes.sort()).toEqual(["node-a", "node-b"]);
    const health = await page.$$eval("#instances tbody tr td:nth-child(5)", (tds) => tds.map((t) => t.textContent));
    expect(health).toEqual(["ok", "ok"]);

    // The match, owned by A, with its two players; opened: members and live state.
    const row = page.locator(`#matches tbody tr[data-match="${ann.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    await page.waitForFunction((id) => document.querySelector(`#matches tr[data-match="${id}"] td:nth-child(4)`)?.textContent === "2/64", ann.id, { timeout: 15_000 }).catch(async () => {
      throw new Error(`players cell: ${await row.locator("td:nth-child(4)").textContent()}`);
    });
    expect(await row.locator("td:nth-child(9)").textContent()).toBe("node-a");
    await row.locator("button", { hasText: "Open" }).click();
    await page.waitForFunction(() => document.querySelectorAll("#members tbody tr").length === 2, null, { timeout: 10_000 });
    const names = await page.$$eval("#members tbody tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
    expect(names.sort()).toEqual(["ann", "bob"]);
    const via = await page.$$eval("#members tbody tr td:nth-child(8)", (tds) => tds.map((t) => t.textContent));
    expect(via.sort()).toEqual(["", "node-b"]); // bob is connected to B, relayed to A
    await page.waitForFunction(() => /^state at tick \d+/.test(document.getElementById("liveTick")!.textContent || ""), null, { timeout: 10_000 });
    // Let the chart collect a few samples for the screenshot.
    await page.waitForFunction(() => document.querySelectorAll("#instances svg polyline").length >= 4, null, { timeout: 15_000 });

    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, "console.png"), fullPage: true });

    // End it (through the bus: the console is B's, the match is A's); the players get END.
    const annEnded = new Promise((resolve) => ann.on("end", resolve as never));
    await row.locator("button", { hasText: "End" }).click();
    await page.waitForFunction((id) => !document.querySelector(`#matches tr[data-match="${id}"]`), ann.id, { timeout: 10_000 });
    await Promise.race([annEnded, new Promise((_, rej) => setTimeout(() => rej(new Error("ann got no END")), 10_000))]);
    await page.screenshot({ path: join(SHOTS, "console-ended.png"), fullPage: true });
    void bob;

    // The audit trail: the action logged on B (who asked) and on A (who carried it out).
    expect(b.srv.logs()).toMatch(/operator action.*who=playwright.*action=end_match.*result=ok.*node=node-a/);
    expect(a.srv.logs()).toMatch(/operator action.*who=playwright.*action=end_match.*result=ok.*via=node-b/);
    expect(errors).toEqual([]);
  }, 240_000); // the first run builds the server
});
