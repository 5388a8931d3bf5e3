// Browser end-to-end across a cluster (what `make cluster` gives a newcomer): a redis-server and
// two instances serving the demo; alice opens the demo on instance one, bob opens it with
// alice's link (?match=…&chat=…) on the instance that does not own her arena, so his page
// plays relayed to the owner. Alice holds ArrowRight and bob's page must see her dot move; a chat line
// crosses too. Nothing skips: no chromium, no SDK bundle, no redis-server: the test fails.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type RunningRedis, startRedis } from "../integration/redis.js";
import { startServer, stopAll } from "../integration/server.js";
import { DEMO, OUT, SDK, TwoBrowsers, dot, moveAndSee, openDemo, requireBrowser } from "./chromium.js";

const browsers = new TwoBrowsers();
let redis: RunningRedis | undefined;

afterAll(async () => {
  await browsers.close();
  await stopAll();
  redis?.stop();
});

describe("demo across two instances in chromium", () => {
  it("alice on instance one, bob relayed through the instance that does not own the arena: bob sees alice move, chat crosses", async () => {
    requireBrowser();
    redis = await startRedis();
    const one = await startServer({ args: ["--redis", redis.url, "--node", "one", "--demo", DEMO, "--sdk", SDK] });
    const two = await startServer({ args: ["--redis", redis.url, "--node", "two", "--demo", DEMO, "--sdk", SDK] });
    const { a: ctxA, b: ctxB } = await browsers.launch();
    const errors: string[] = [];
    const alice = await openDemo(ctxA, `${one.url}/?name=alice`, "alice", errors, true);
    const ids = await alice.evaluate(() => {
      const d = (window as any).tickrelayDemo;
      return { arena: d.arena.match.id as string, chat: d.chat.match.id as string, pid: d.arena.match.pid as number };
    });
    // The arena is placed on the least loaded instance (either, depending on when the last
    // heartbeats counted the page's session): bob opens the demo on the other one, so that his
    // page plays relayed to the owner.
    const info = await (await fetch(`${two.url}/v1/matches/${ids.arena}`)).json();
    expect(["one", "two"]).toContain(info.owner.node);
    const other = info.owner.node === "one" ? two : one;
    const bob = await openDemo(ctxB, `${other.url}/?name=bob&match=${ids.arena}&chat=${ids.chat}`, "bob", errors, true);
    const bobArena = await bob.evaluate(() => (window as any).tickrelayDemo.arena.match.id as string);
    expect(bobArena).toBe(ids.arena);
    await bob.waitForFunction((pid) => !!(window as any).tickrelayDemo.arena.match?.state.get(pid), ids.pid, { timeout: 10_000 });
    await moveAndSee(alice, bob, ids.pid, 10_000);
    await alice.waitForFunction(() => (window as any).tickrelayDemo.arena.pending.pending.length === 0, null, { timeout: 10_000 });
    const self = (await dot(alice, ids.pid))!;
    await bob.waitForFunction(
      ([pid, x, y]) => {
        const f = (window as any).tickrelayDemo.arena.match?.state.get(pid);
        return !!f && f.x === x && f.y === y;
      },
      [ids.pid, self.x, self.y] as const,
      { timeout: 10_000 },
    );
    const hello = `hello from alice, ${Date.now() % 100000}`;
    await alice.fill("#chat-input", hello);
    await alice.press("#chat-input", "Enter");
    await bob.locator("#chat-log li", { hasText: `alice: ${hello}` }).waitFor({ timeout: 10_000 });
    await bob.fill("#chat-input", "hi from bob");
    await bob.press("#chat-input", "Enter");
    await alice.locator("#chat-log li", { hasText: "bob: hi from bob" }).waitFor({ timeout: 10_000 });
    await alice.screenshot({ path: join(OUT, "cluster-alice.png") });
    await bob.screenshot({ path: join(OUT, "cluster-bob.png") });
    expect(errors).toEqual([]);
  });
});
