// What the browser suites share: where Debian's chromium and the demo are, the flags it runs
// with, and two isolated browser contexts (two players) that are closed after the file's tests.
// Nothing skips: a missing chromium or SDK bundle is an error.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium } from "playwright-core";

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
