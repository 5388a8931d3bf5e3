// A newcomer's first hour, in Chromium against the real server: the demo survives a restart of
// the server under an open page (with the same secret, and with another one: the token is then
// refused with close 4100 AUTH, which a browser can see, and the demo gets a new one); a page
// served from another origin calls the HTTP API through CORS; the demo fits a 390 px phone; the
// HUD's tick runs while nobody moves. Nothing skips: no chromium or no SDK bundle fails.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, freePort, startServer, stopAll } from "../integration/server.js";

const CHROMIUM = process.env.TICKRELAY_CHROMIUM || "/usr/bin/chromium";
const PKG = fileURLToPath(new URL("../../", import.meta.url));
const DEMO = join(PKG, "demo");
const SDK = join(PKG, "dist/browser");
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"];

let browser: Browser | null = null;
let profile: string | null = null;
const others: Server[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium missing: run make deps (no ${CHROMIUM})`);
  if (!existsSync(join(SDK, "tickrelay.js"))) throw new Error(`SDK browser bundle missing: run npm run build`);
  profile = mkdtempSync(join(tmpdir(), "tickrelay-chromium-nc-"));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
});

afterAll(async () => {
  if (browser) await Promise.race([browser.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
  for (const s of others) s.close();
  await stopAll();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openDemo(url: string, viewport = { width: 1200, height: 820 }): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser!.newContext({ viewport });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.tickrelayDemo?.ready === true, null, { timeout: 20_000 });
  return { page, errors };
}

/** Waits until the page plays again: joined an arena whose mirror has its own dot, `recoveries` > n. */
async function playsAgain(page: Page, recoveriesAbove: number): Promise<void> {
  const where = () =>
    page.evaluate((n) => {
      const d = window.tickrelayDemo;
      return JSON.stringify({
        recoveries: d.recoveries,
        lastLoss: d.lastLoss,
        arena: d.arena.match?.status,
        pid: d.arena.match?.pid,
        ids: d.arena.match ? [...(d.arena.match.state as unknown as { entities: Map<number, unknown> }).entities.keys()] : null,
        n,
        chat: d.chat.match?.status,
        link: document.getElementById("arena-state")?.textContent,
        banner: document.getElementById("banner")?.textContent,
        log: Array.from(document.querySelectorAll("#chat-log li"), (li) => li.textContent).slice(-8),
      });
    }, recoveriesAbove);
  await page.waitForFunction(
    (n) => {
      const d = window.tickrelayDemo;
      const m = d.arena.match;
      return d.recoveries > n && !!m && m.status === "joined" && !!m.state.get(m.pid) && d.chat.match?.status === "joined";
    },
    recoveriesAbove,
    { timeout: 30_000 },
  ).catch(async (err: Error) => {
    throw new Error(`the page did not play again: ${await where()}: ${err.message}`);
  });
}

describe("a newcomer's first hour in chromium", () => {
  it("restarting the server under an open page: the page plays again (same secret, then another)", async () => {
    let server: RunningServer = await startServer({ args: ["--demo", DEMO, "--sdk", SDK, "--drain-delay", "0s"] });
    const { page, errors } = await openDemo(`${server.url}/?name=carol`);
    const first = await page.evaluate(() => window.tickrelayDemo.arena.match!.id);

    // 1. Same secret (make run's stable development secret): the token still works, the
    // session and its match are gone; the demo rejoins (the match is gone: another one).
    await server.stop();
    server = await startServer({ port: server.port, args: ["--demo", DEMO, "--sdk", SDK, "--drain-delay", "0s"] });
    await playsAgain(page, 0);
    const second = await page.evaluate(() => window.tickrelayDemo.arena.match!.id);
    expect(second).not.toBe(first);

    // 2. Another secret: the old token is refused with the terminal close 4100 AUTH, which the
    // page sees; the demo gets a new token and joins again.
    const before = await page.evaluate(() => window.tickrelayDemo.recoveries);
    await server.stop();
    server = await startServer({
      port: server.port,
      secret: "another-secret-for-the-restart-test-0123456789",
      args: ["--demo", DEMO, "--sdk", SDK, "--drain-delay", "0s"],
    });
    await playsAgain(page, before);
    expect(await page.evaluate(() => window.tickrelayDemo.lastLoss)).toMatch(/4100 AUTH/);
    await page.locator("#arena-state", { hasText: "connected" }).waitFor({ timeout: 10_000 });
    expect(errors).toEqual([]);
  });

  it("a page on another origin calls the HTTP API (CORS) and plays over the WebSocket", async () => {
    const port = await freePort();
    const pageOrigin = `http://localhost:${port}`;
    const server = await startServer({ args: ["--origins", pageOrigin] });
    // The other origin: a static server with a page and the SDK bundle, like a Vite dev server.
    const sdk = readFileSync(join(SDK, "tickrelay.js"));
    const html = `<!doctype html><script type="module">
      import { Client, Match } from "./tickrelay.js";
      window.run = async (api) => {
        const client = new Client({ url: api });
        await client.authGuest("dora");
        const { reservation } = await client.createMatch({ game: "arena" });
        const match = await client.join(reservation);
        const list = await client.listMatches({ game: "arena" });
        return { id: match.id, pid: match.pid, listed: list.some((m) => m.id === match.id) };
      };
    </script>`;
    const other = createServer((req, res) => {
      if (req.url === "/tickrelay.js") res.writeHead(200, { "content-type": "text/javascript" }).end(sdk);
      else res.writeHead(200, { "content-type": "text/html" }).end(html);
    });
    others.push(other);
    await new Promise<void>((r) => other.listen(port, "127.0.0.1", r));
    const ctx = await browser!.newContext();
    const page = await ctx.newPage();
    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => typeof (window as unknown as { run?: unknown }).run === "function");
    const got = await page.evaluate((api) => (window as unknown as { run(a: string): Promise<{ id: string; pid: number; listed: boolean }> }).run(api), server.url);
    expect(got.id).toMatch(/^m-/);
    expect(got.pid).toBeGreaterThan(0);
    expect(got.listed).toBe(true);

    // From an origin that is not allowed, the browser keeps the answer from the page.
    const denied = await browser!.newContext();
    const p2 = await denied.newPage();
    await p2.goto(`http://127.0.0.1:${port}/`); // another origin (127.0.0.1 ≠ localhost)
    await p2.waitForFunction(() => typeof (window as unknown as { run?: unknown }).run === "function");
    const err = await p2.evaluate((api) =>
      (window as unknown as { run(a: string): Promise<unknown> }).run(api).then(
        () => "allowed",
        (e: Error) => e.message,
      ),
    server.url);
    expect(err).toMatch(/POST \/v1\/auth\/guest/);
  });

  it("fits a 390 px phone viewport; the HUD's tick runs while nobody moves, and nothing is redrawn", async () => {
    const server = await startServer({ args: ["--demo", DEMO, "--sdk", SDK] });
    const { page, errors } = await openDemo(`${server.url}/?name=${"a-rather-long-player-name"}`, { width: 390, height: 844 });
    await page.locator("#matches tr.current").first().waitFor({ timeout: 10_000 });
    const width = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
    expect(width).toBeLessThanOrEqual(390);
    // Nobody moves: no deltas come, yet the tick shown keeps running (20 Hz: 10 ticks in 0.5 s).
    const t0 = Number(await page.locator("#tick").textContent());
    const frames0 = await page.evaluate(() => window.tickrelayDemo.frames);
    await page.waitForFunction((t0) => Number(document.getElementById("tick")!.textContent) >= t0 + 10, t0, { timeout: 5_000 });
    // ...and the still picture is not redrawn: a frame drawn is main-thread time every message
    // (a PONG too) waits behind, which made the RTT shown jump by a frame (4-58 ms).
    const frames1 = await page.evaluate(() => window.tickrelayDemo.frames);
    expect(frames1 - frames0).toBeLessThanOrEqual(2);
    expect(errors).toEqual([]);
  });
});

// The page's test hook is declared in demo.test.ts.
