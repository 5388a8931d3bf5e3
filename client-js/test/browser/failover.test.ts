// Issue 12's "done" in a browser: three instances over a real redis-server serving the demo (what
// `make cluster` gives), alice's page on instance one (the arena's owner), bob's on instance two,
// both given every instance with ?peers=. Instance one is killed with SIGKILL: another instance
// claims the arena from its last checkpoint, alice's page reconnects elsewhere and takes her seat
// back, bob's page follows the new owner; both pages play the same match on (a new epoch), and
// bob sees alice move again. Nothing skips: no chromium, no SDK bundle, no redis-server: it fails.
import { join } from "node:path";
import { type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningRedis, startRedis } from "../integration/redis.js";
import { type RunningServer, startServer, stopAll } from "../integration/server.js";
import { DEMO, OUT, SDK, TwoBrowsers, moveAndSee, openDemo, requireBrowser } from "./chromium.js";

const browsers = new TwoBrowsers();
let redis: RunningRedis | undefined;

afterAll(async () => {
  await browsers.close();
  await stopAll();
  redis?.stop();
});

async function metric(srv: RunningServer, name: string): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface View {
  epoch: number;
  pid: number;
  x: number | null;
}

const view = (page: Page, pid: number): Promise<View> =>
  page.evaluate((pid) => {
    const m = (window as any).tickrelayDemo.arena.match;
    const f = m?.state.get(pid);
    return { epoch: m?.epoch ?? 0, pid: m?.pid ?? 0, x: f ? (f.x as number) : null };
  }, pid);

describe("demo through a kill -9 of the arena's owner in chromium", () => {
  it("both pages play the same arena on after its instance dies", async () => {
    requireBrowser();
    redis = await startRedis();
    const flags = (node: string) => ["--redis", redis!.url, "--node", node, "--demo", DEMO, "--sdk", SDK,
      "--public-metrics", "--checkpoint-every", "5s"];
    const one = await startServer({ args: flags("one") }); // alone: alice's arena is placed here
    const two = await startServer({ args: flags("two") });
    const three = await startServer({ args: flags("three") });
    for (const s of [one, two, three]) {
      await until(`${s.url} sees three instances`, 15_000, async () => (await metric(s, "tickrelay_cluster_instances")) >= 3);
    }
    const peers = [one, two, three].map((s) => s.url).join(",");
    const { a: ctxA, b: ctxB } = await browsers.launch();
    const errors: string[] = [];
    // alice's page makes its arena through instance one (placed on the least loaded instance:
    // whichever it is, it is the one killed below), bob's page joins it through another.
    const alice = await openDemo(ctxA, `${one.url}/?name=alice&peers=${peers}`, "alice", errors);
    const ids = await alice.evaluate(() => {
      const d = (window as any).tickrelayDemo;
      return { arena: d.arena.match.id as string, chat: d.chat.match.id as string, pid: d.arena.match.pid as number };
    });
    const info = await (await fetch(`${two.url}/v1/matches/${ids.arena}`)).json();
    const owner = [one, two, three].find((s) => s.url.endsWith(`:${new URL(info.owner.address).port}`));
    if (!owner) throw new Error(`the arena's owner ${JSON.stringify(info.owner)} is none of the three`);
    const relay = [one, two, three].find((s) => s !== owner)!;
    // The arena's first checkpoint (alice's seat only), then bob joins and the owner is killed
    // before the next one (every 5 s): the restored match has no seat for bob, and his instance
    // must JOIN him into it (it used to leave his page on the old epoch).
    await until("a checkpoint of the arena", 15_000, async () => (await metric(owner, "tickrelay_checkpoint_write_seconds_count")) > 0);
    const written = await metric(owner, "tickrelay_checkpoint_write_seconds_count");
    const bob = await openDemo(ctxB, `${relay.url}/?name=bob&match=${ids.arena}&chat=${ids.chat}&peers=${peers}`, "bob", errors);
    await bob.waitForFunction((pid) => !!(window as any).tickrelayDemo.arena.match?.state.get(pid), ids.pid, { timeout: 10_000 });
    const before = await view(bob, ids.pid);
    const bobFirst = (await metric(owner, "tickrelay_checkpoint_write_seconds_count")) === written;

    const killed = Date.now();
    process.kill(owner.pid, "SIGKILL");
    await owner.exited;
    // Both pages follow: the same Match object on a new epoch (alice's seat taken back).
    await alice.waitForFunction((e) => (window as any).tickrelayDemo.arena.match?.epoch > e, before.epoch, { timeout: 20_000 });
    await bob.waitForFunction((e) => (window as any).tickrelayDemo.arena.match?.epoch > e, before.epoch, { timeout: 20_000 });
    const a = await view(alice, ids.pid);
    expect(a.pid).toBe(ids.pid);
    const followedMs = Date.now() - killed;

    // alice moves again and bob sees it through whichever instance owns the arena now.
    await moveAndSee(alice, bob, ids.pid, 15_000);
    const movedMs = Date.now() - killed;
    const after = await (await fetch(`${relay.url}/v1/matches/${ids.arena}`)).json();
    expect(after.owner.node).not.toBe(info.owner.node);
    expect(after.epoch).toBeGreaterThan(info.epoch);
    console.log(`browser failover: owner ${info.owner.node} killed; both pages on epoch ${after.epoch} (owner ${after.owner.node}) ${followedMs} ms after, bob saw alice move ${movedMs} ms after; bob's seat ${bobFirst ? "was not in the checkpoint (seated anew)" : "was in a checkpoint (a slow join crossed the next one)"}`);
    await alice.screenshot({ path: join(OUT, "failover-alice.png") });
    await bob.screenshot({ path: join(OUT, "failover-bob.png") });
    expect(errors).toEqual([]);
  });
});
