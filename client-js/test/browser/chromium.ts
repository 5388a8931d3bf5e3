// What the browser suites share: where Debian's chromium and the demo are, the flags it runs
// with, two isolated browser contexts (two players) that are closed after the file's tests, and
// the demo steps several suites take (open the demo, move a dot and see it on the other page).
// Nothing skips: a missing chromium or SDK bundle is an error.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, type Page, chromium } from "playwright-core";

export const CHROMIUM = process.env.TICKRELAY_CHROMIUM || "/usr/bin/chromium";
export const PKG = fileURLToPath(new URL("../../", import.meta.url));
export const DEMO = join(PKG, "demo");
export const SDK = join(PKG, "dist/browser");
export const OUT = join(PKG, "test-output");
export const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Throws unless chromium and the SDK's browser bundle are there. */
export function requireBrowser(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium missing: run make deps (no ${CHROMIUM})`);
  if (!existsSync(join(SDK, "tickrelay.js"))) throw new Error("SDK browser bundle missing: run npm run build");
}

/** Two players' isolated contexts in one chromium (a persistent profile and a second context). */
export class TwoBrowsers {
  a: BrowserContext | null = null;
  b: BrowserContext | null = null;
  private profile: string | null = null;

  async launch(): Promise<{ a: BrowserContext; b: BrowserContext }> {
    requireBrowser();
    mkdirSync(OUT, { recursive: true });
    this.profile = mkdtempSync(join(tmpdir(), "tickrelay-chromium-"));
    this.a = await chromium.launchPersistentContext(this.profile, { executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 });
    const browser = this.a.browser();
    if (!browser) throw new Error("no browser behind the persistent context");
    this.b = await browser.newContext();
    return { a: this.a, b: this.b };
  }

  /** Closes both (each bounded to 10 s) and removes the profile. */
  async close(): Promise<void> {
    const close = async (c: BrowserContext | null) => {
      if (c) await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 10_000))]);
    };
    await close(this.b);
    await close(this.a);
    if (this.profile) rmSync(this.profile, { recursive: true, force: true });
  }
}

/**
 * Opens the demo at url in ctx's page and waits until it is ready; page errors (and, with
 * consoleErrors, console errors) of `who` are collected in errors.
 */
export async function openDemo(ctx: BrowserContext, url: string, who: string, errors: string[], consoleErrors = false): Promise<Page> {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on("pageerror", (e) => errors.push(`${who} page error: ${e.message}`));
  if (consoleErrors) {
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${who} console error: ${m.text()}`);
    });
  }
  await page.goto(url);
  await page.waitForFunction(() => (window as any).tickrelayDemo?.ready === true, null, { timeout: 20_000 });
  return page;
}

/** pid's dot in page's arena mirror (null: not there). */
export function dot(page: Page, pid: number): Promise<{ x: number; y: number } | null> {
  return page.evaluate((pid) => {
    const f = (window as any).tickrelayDemo.arena.match?.state.get(pid);
    return f ? { x: f.x as number, y: f.y as number } : null;
  }, pid);
}

/**
 * mover holds an arrow key (away from the nearer edge) until watcher's page sees pid's dot
 * 20 px further, within timeoutMs; then it lets go.
 */
export async function moveAndSee(mover: Page, watcher: Page, pid: number, timeoutMs: number): Promise<void> {
  await mover.bringToFront();
  const start = await dot(watcher, pid);
  if (!start) throw new Error(`the watching page has no dot for pid ${pid}`);
  const right = start.x <= 500;
  const key = right ? "ArrowRight" : "ArrowLeft";
  const to = right ? start.x + 20 : start.x - 20;
  await mover.keyboard.down(key);
  try {
    await watcher.waitForFunction(
      ([pid, to, right]) => {
        const f = (window as any).tickrelayDemo.arena.match?.state.get(pid);
        return !!f && (right ? f.x >= to : f.x <= to);
      },
      [pid, to, right] as const,
      { timeout: timeoutMs },
    );
  } finally {
    await mover.keyboard.up(key);
  }
}
