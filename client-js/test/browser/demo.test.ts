// Browser end-to-end: the real server serves the demo (client-js/demo) and the SDK's browser
// bundle (client-js/dist/browser); Debian's chromium, driven by playwright-core, opens the demo
// twice (two isolated browser contexts = two players). Both join the same arena and chat room;
// one holds ArrowRight and the other must see that dot move; a chat line typed in one page must
// appear in the other. A screenshot of each page goes to client-js/test-output/.
//
// Nothing skips: no chromium, no SDK bundle, or a server that won't start fails the test.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, type Page, chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer, stopAll } from "../integration/server.js";

const CHROMIUM = process.env.TICKRELAY_CHROMIUM || "/usr/bin/chromium";
const PKG = fileURLToPath(new URL("../../", import.meta.url));
const DEMO = join(PKG, "demo");
const SDK = join(PKG, "dist/browser");
const OUT = join(PKG, "test-output");
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let profile: string | null = null;
let ctxA: BrowserContext | null = null;
let ctxB: BrowserContext | null = null;

afterAll(async () => {
  // Closing the persistent context closes the browser (and its other context) and ends its
  // processes; bounded, so a hung browser can't hold the run.
  const close = async (c: BrowserContext | null) => {
    if (!c) return;
    await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
  };
  await close(ctxB);
  await close(ctxA);
  await stopAll();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

interface Pos {
  x: number;
  y: number;
}

/** The position of player `pid` in this page's SDK mirror (null if not there). */
function dotOf(page: Page, pid: number): Promise<Pos | null> {
  return page.evaluate((pid) => {
    const f = window.tickrelayDemo.arena.match?.state.get(pid) as Pos | undefined;
    return f ? { x: f.x, y: f.y } : null;
  }, pid);
}

/** Collects page errors and console errors, to fail on them at the end. */
function watch(page: Page, who: string, errors: string[]): void {
  page.on("pageerror", (e) => errors.push(`${who} page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`${who} console error: ${m.text()}`);
  });
}

async function openDemo(ctx: BrowserContext, url: string, who: string, errors: string[]): Promise<Page> {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  watch(page, who, errors);
  await page.goto(url);
  await page.waitForFunction(() => window.tickrelayDemo?.ready === true, null, { timeout: 20_000 });
  return page;
}

describe("demo in chromium", () => {
  it("two players: one moves and the other sees it; chat goes both ways; screenshots", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium missing: run make deps (no ${CHROMIUM})`);
    if (!existsSync(join(SDK, "tickrelay.js"))) {
      throw new Error(`SDK browser bundle missing: run npm run build (no ${join(SDK, "tickrelay.js")})`);
    }
    const server: RunningServer = await startServer({ args: ["--demo", DEMO, "--sdk", SDK] });
    profile = mkdtempSync(join(tmpdir(), "tickrelay-chromium-"));
    mkdirSync(OUT, { recursive: true });

    // One browser with a fresh --user-data-dir (Playwright passes it for a persistent context
    // and refuses it in `args`), and a second, isolated context in the same browser.
    ctxA = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1200, height: 820 },
      timeout: 30_000,
    });
    const browser = ctxA.browser();
    if (!browser) throw new Error("no browser behind the persistent context");
    ctxB = await browser.newContext({ viewport: { width: 1200, height: 820 } });

    const errors: string[] = [];
    const alice = await openDemo(ctxA, `${server.url}/?name=alice`, "alice", errors);
    const ids = await alice.evaluate(() => ({
      arena: window.tickrelayDemo.arena.match!.id,
      chat: window.tickrelayDemo.chat.match!.id,
      pid: window.tickrelayDemo.arena.match!.pid,
    }));
    expect(ids.arena).toMatch(/^m-/);
    // The address bar now carries the link to these matches.
    expect(new URL(alice.url()).searchParams.get("match")).toBe(ids.arena);

    const bob = await openDemo(ctxB, `${server.url}/?name=bob&match=${ids.arena}&chat=${ids.chat}`, "bob", errors);
    const bobIds = await bob.evaluate(() => ({
      arena: window.tickrelayDemo.arena.match!.id,
      chat: window.tickrelayDemo.chat.match!.id,
      pid: window.tickrelayDemo.arena.match!.pid,
    }));
    expect(bobIds.arena).toBe(ids.arena);
    expect(bobIds.chat).toBe(ids.chat);
    expect(bobIds.pid).not.toBe(ids.pid);

    // Bob's mirror has alice's dot; alice's has bob's.
    await bob.waitForFunction((pid) => !!window.tickrelayDemo.arena.match?.state.get(pid), ids.pid, { timeout: 10_000 });
    await alice.waitForFunction((pid) => !!window.tickrelayDemo.arena.match?.state.get(pid), bobIds.pid, { timeout: 10_000 });

    // Alice's inputs all acked, then bob's mirror has her where her own mirror does.
    const settle = async (): Promise<Pos> => {
      await alice.waitForFunction(() => window.tickrelayDemo.arena.pending.pending.length === 0, null, { timeout: 10_000 });
      const self = (await dotOf(alice, ids.pid))!;
      await bob.waitForFunction(
        ([pid, x, y]) => {
          const f = window.tickrelayDemo.arena.match?.state.get(pid);
          return !!f && f.x === x && f.y === y;
        },
        [ids.pid, self.x, self.y] as const,
        { timeout: 10_000 },
      );
      return self;
    };
    /** Holds `key` on alice's page for ≥ minMs and until bob's mirror has her x past `to`. */
    const hold = async (key: "ArrowLeft" | "ArrowRight", to: number, minMs: number) => {
      await alice.keyboard.down(key);
      const t0 = Date.now();
      await bob.waitForFunction(
        ([pid, to, right]) => {
          const f = window.tickrelayDemo.arena.match?.state.get(pid);
          return !!f && (right ? f.x >= to : f.x <= to);
        },
        [ids.pid, to, key === "ArrowRight"] as const,
        { timeout: 10_000 },
      );
      const rest = minMs - (Date.now() - t0);
      if (rest > 0) await alice.waitForTimeout(rest); // the rest of the key press
      await alice.keyboard.up(key);
    };

    // Leave room on the right (the world is 1000 wide; the spawn point is random).
    await alice.bringToFront();
    let start = (await dotOf(bob, ids.pid))!;
    if (start.x > 880) {
      await hold("ArrowLeft", 800, 0);
      start = await settle();
    }

    // Alice holds ArrowRight for about a second; bob must see her dot go right by ≥ 20 units.
    await hold("ArrowRight", start.x + 20, 1000);
    const aliceSelf = await settle();
    const end = (await dotOf(bob, ids.pid))!;
    expect(end.x - start.x).toBeGreaterThanOrEqual(20);
    expect(end.y).toBeCloseTo(start.y, 3);
    expect(end).toEqual(aliceSelf);
    // Alice's predicted dot (what she sees) is where the server put her once nothing is pending.
    const predicted = await alice.evaluate(() => window.tickrelayDemo.predictedSelf());
    expect(predicted!.x).toBeCloseTo(aliceSelf.x, 3);

    // Chat: alice → bob, and bob → alice.
    const hello = `hello bob, it is ${Date.now() % 100000}`;
    await alice.fill("#chat-input", hello);
    await alice.press("#chat-input", "Enter");
    await bob.locator("#chat-log li", { hasText: `alice: ${hello}` }).waitFor({ timeout: 10_000 });
    await alice.locator("#chat-log li", { hasText: `alice: ${hello}` }).waitFor({ timeout: 10_000 }); // the echo
    await bob.fill("#chat-input", "hi alice");
    await bob.press("#chat-input", "Enter");
    await alice.locator("#chat-log li", { hasText: "bob: hi alice" }).waitFor({ timeout: 10_000 });
    expect(await alice.inputValue("#chat-input")).toBe("");

    // The HUD and the match list caught up (the list refreshes every 3 s), then the pictures.
    for (const page of [alice, bob]) {
      await page.locator("#players", { hasText: "2" }).waitFor({ timeout: 10_000 });
      await page.locator("#arena-state", { hasText: "connected" }).waitFor({ timeout: 10_000 });
      // The list refreshes when someone joins a match of ours (and every 3 s).
      await page.locator("#matches tr.current", { hasText: "arena" }).filter({ hasText: "2/16" }).waitFor({ timeout: 10_000 });
      await page.locator("#matches tr.current", { hasText: "relay" }).filter({ hasText: "2/64" }).waitFor({ timeout: 10_000 });
      expect(await page.locator("#banner").isVisible()).toBe(false);
    }
    await alice.screenshot({ path: join(OUT, "demo-alice.png") });
    await bob.screenshot({ path: join(OUT, "demo-bob.png") });
    expect(existsSync(join(OUT, "demo-alice.png"))).toBe(true);
    expect(errors).toEqual([]);
  });
});

// The page's test hook (demo/app.js), as far as these tests read it.
declare global {
  interface Window {
    tickrelayDemo: {
      ready: boolean;
      /** How many times the page lost a match and joined again (newcomer.test.ts). */
      recoveries: number;
      lastLoss?: string;
      /** Canvas frames drawn so far (nothing is redrawn while nothing moves). */
      frames: number;
      arena: {
        match: { id: string; pid: number; status: string; state: { get(id: number): Pos | undefined } } | null;
        pending: { pending: unknown[] };
      };
      chat: { match: { id: string; status: string } | null };
      predictedSelf(): Pos | null;
    };
  }
}
