// The SDK follows one arena match from instance to instance (issue 12), against real server
// processes and a real redis-server: A (the owner) is killed with SIGKILL and B claims the
// match from its last checkpoint (1006, RESUME fails, JOIN by id takes the seat back), then B
// drains (SIGTERM) and hands the match to C (close 4003 MOVED naming C). The same Match objects play
// on throughout; after each move both mirrors equal each other at the same tick, on the new
// epoch, and inputs are acked again.
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type Match } from "../../src/index.js";
import { type RunningRedis, startRedis } from "./redis.js";
import { type RunningServer, freePort, startServer, stopAll } from "./server.js";
import { nextEvent, snapshotOf, until } from "./util.js";

let redis: RunningRedis | undefined;
let a: RunningServer;
let b: RunningServer;
let setupError: unknown;
let portC = 0; // C, where the drain hands the match (started later)

const args = (node: string): string[] => ["--redis", redis!.url, "--node", node, "--public-metrics", "--checkpoint-every", "1s"];

async function instances(srv: RunningServer): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = /^tickrelay_cluster_instances (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function checkpointWrites(srv: RunningServer): Promise<number> {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = /^tickrelay_checkpoint_write_seconds_count (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function seeEachOther(servers: RunningServer[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const n = await Promise.all(servers.map(instances));
    if (n.every((x) => x >= servers.length)) return;
    if (Date.now() > deadline) throw new Error(`instances see ${n.join(", ")} of ${servers.length}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  try {
    redis = await startRedis();
    a = await startServer({ args: args("a") }); // alone: the match is placed here
    portC = await freePort();
  } catch (e) {
    setupError = e;
  }
});

afterAll(async () => {
  await stopAll();
  redis?.stop();
});

async function move(m: Match, input: [number, number]): Promise<void> {
  const next = m.seq + 1;
  const acked = nextEvent(m, "ack", `ack ${next} (pid ${m.pid})`, (s) => s >= next, 15_000);
  m.sendInput(input);
  await acked;
}

/** Both play until they have been acked, then their mirrors agree at one tick. */
async function playOn(ann: Match, bob: Match, epoch: number): Promise<void> {
  await until(() => ann.epoch >= epoch && bob.epoch >= epoch, `both on epoch ≥ ${epoch}`, 15_000);
  for (let i = 0; i < 3; i++) {
    await move(ann, [1, 0]);
    await move(bob, [0, 1]);
  }
  await until(() => ann.tick === bob.tick && ann.epoch === bob.epoch, "both mirrors at the same tick");
  expect(snapshotOf(bob.state.entities)).toEqual(snapshotOf(ann.state.entities));
}

describe("failover", () => {
  it("one match follows from A to B through a kill -9 and from B to C through a drain", async () => {
    if (setupError) throw setupError;
    const urlC = `ws://127.0.0.1:${portC}/ws`;
    const ca = new Client({ url: a.url, connection: { WebSocket } });
    await ca.authGuest("ann");
    const { match: info, reservation } = await ca.createMatch({ game: "arena" });
    b = await startServer({ args: args("b") });
    await seeEachOther([a, b]);
    const ann = await ca.join(reservation, { connection: { urls: [b.wsUrl, urlC] } });
    const cb = new Client({ url: b.url, connection: { WebSocket } });
    await cb.authGuest("bob");
    const bob = await cb.join(info.id, { connection: { url: b.wsUrl, urls: [a.wsUrl, urlC] } }); // relayed through b
    const seen = { ann: [] as string[], bob: [] as string[] };
    for (const [name, m] of [["ann", ann], ["bob", bob]] as const) {
      for (const e of ["moved", "reconnecting", "resumed", "end", "left"] as const) m.on(e, () => seen[name].push(e));
      m.on("error", () => {});
    }
    const over = (name: "ann" | "bob") => seen[name].filter((e) => e === "end" || e === "left");
    try {
      await playOn(ann, bob, 1);
      const epoch0 = ann.epoch;
      // A checkpoints the match every second: wait for one with these inputs in it.
      const writes = await checkpointWrites(a);
      while ((await checkpointWrites(a)) <= writes) await move(ann, [1, 0]);

      // kill -9 A (the owner, ann's instance): B claims the match from its checkpoint; ann
      // reconnects (1006) to B, her RESUME fails (A had the session) and a JOIN by id takes her
      // seat back; bob, relayed by B, follows the new owner without a reconnect.
      const t0 = Date.now();
      process.kill(a.pid, "SIGKILL");
      await playOn(ann, bob, epoch0 + 1);
      const killMs = Date.now() - t0;
      expect(killMs).toBeLessThan(10_000);
      expect(ann.connection.url).toBe(b.wsUrl);
      expect(seen.ann).toContain("resumed");
      expect(over("ann")).toEqual([]);
      expect(over("bob")).toEqual([]);
      expect((await (await fetch(`${b.url}/v1/matches/${info.id}`)).json()).owner.node).toBe("b");
      const epoch1 = ann.epoch;
      console.log(`failover: kill -9 A→B: epoch ${epoch0}→${epoch1}, both playing again ${killMs} ms after the kill`);

      // Drain B (SIGTERM): the match is handed to C; both players (on B) are closed with 4003
      // naming C, reconnect there and resume.
      const c = await startServer({ args: args("c"), port: portC });
      await seeEachOther([b, c]);
      const movedAnn = nextEvent(ann, "moved", "ann's moved event", () => true, 15_000);
      const movedBob = nextEvent(bob, "moved", "bob's moved event", () => true, 15_000);
      const t1 = Date.now();
      await b.stop(15_000);
      const drainMs = Date.now() - t1;
      const [[toAnn], [toBob]] = await Promise.all([movedAnn, movedBob]);
      expect(toAnn).toEqual({ url: c.wsUrl, via: "close" });
      expect(toBob).toEqual({ url: c.wsUrl, via: "close" });
      await playOn(ann, bob, epoch1 + 1);
      expect(ann.connection.url).toBe(c.wsUrl);
      expect(bob.connection.url).toBe(c.wsUrl);
      expect(over("ann")).toEqual([]);
      expect(over("bob")).toEqual([]);
      console.log(
        `failover: kill -9 A→B then drain B→C: epochs ${epoch0}→${epoch1}→${ann.epoch}; both playing again ${killMs} ms after the kill; the drain took ${drainMs} ms`,
      );
    } finally {
      ann.connection.close();
      bob.connection.close();
    }
  }, 90_000);
});
