// Browser end-to-end for matchmaking: two players open the demo's duel page in Debian's chromium
// (two isolated contexts), press "Play a duel", are matched into the same duel by the server's
// matchmaker (progress pushed to each page, no polling), and click their cards until the game
// ends. Screenshots go to client-js/test-output/. Nothing skips.
import { join } from "node:path";
import { type BrowserContext, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { startServer, stopAll } from "../integration/server.js";
import { DEMO, OUT, SDK, TwoBrowsers, requireBrowser } from "./chromium.js";

declare global {
  interface Window {
    tickrelayDuel: { match: { id: string } | null; progress: { status: string }[]; results: unknown[] };
  }
}

const browsers = new TwoBrowsers();

afterAll(async () => {
  await browsers.close();
  await stopAll();
});

describe("duel page in chromium", () => {
  it("two players press Play, are matched into one duel and play it to the end", async () => {
    requireBrowser();
    const server = await startServer({ args: ["--demo", DEMO, "--sdk", SDK] });
    const { a: ctxA, b: ctxB } = await browsers.launch();
    const errors: string[] = [];
    const open = async (ctx: BrowserContext, name: string): Promise<Page> => {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      page.on("pageerror", (e) => errors.push(`${name}: ${e.message}`));
      await page.goto(`${server.url}/duel.html?name=${name}&skill=1500&region=eu`);
      await page.locator("#play:not([disabled])").waitFor({ timeout: 20_000 });
      return page;
    };
    const alice = await open(ctxA, "alice");
    const bob = await open(ctxB, "bob");
    await alice.click("#play");
    await alice.locator("#status", { hasText: "searching" }).waitFor({ timeout: 10_000 });
    await bob.click("#play");
    for (const p of [alice, bob]) await p.waitForFunction(() => window.tickrelayDuel.match !== null, null, { timeout: 10_000 });
    const ids = await Promise.all([alice, bob].map((p) => p.evaluate(() => window.tickrelayDuel.match!.id)));
    expect(ids[0]).toMatch(/^m-/);
    expect(ids[1]).toBe(ids[0]);
    await alice.screenshot({ path: join(OUT, "duel-alice.png") });

    // Whoever's turn it is clicks their lowest card, until both pages saw the end.
    const deadline = Date.now() + 30_000;
    const done = (p: Page) => p.evaluate(() => window.tickrelayDuel.results.length > 0);
    while (!((await done(alice)) && (await done(bob)))) {
      if (Date.now() > deadline) throw new Error("the duel did not end within 30 s");
      // Wait until one page may play (or has ended), then play there.
      const ready = () => document.querySelector("#hand button:not([disabled])") !== null || window.tickrelayDuel.results.length > 0;
      await Promise.race([alice, bob].map((p) => p.waitForFunction(ready, null, { timeout: 10_000 })));
      for (const p of [alice, bob]) {
        const card = p.locator("#hand button:not([disabled])").first();
        if (await card.count()) await card.click({ timeout: 2_000 }).catch(() => {});
      }
    }
    const verdicts = await Promise.all([alice, bob].map((p) => p.locator("#turn").textContent()));
    expect(verdicts.sort()).toEqual(["You lost the duel.", "You won the duel!"]);
    await bob.screenshot({ path: join(OUT, "duel-bob.png") });
    expect(errors).toEqual([]);
  });
});
