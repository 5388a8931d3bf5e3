// Matchmaking across a cluster (a real redis-server and two server processes started with
// --redis): ten SDK players press "Play" on either instance, are matched by skill into five
// duels that are placed on the least loaded instance, and play them to the end; half of them
// play relayed through the instance they pressed "Play" on. The redis-server is Debian's; if it
// is missing the test fails (it never skips).
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, type Connection, type Match } from "../../src/index.js";
import { playToEnd, type Seat } from "./duel.js";
import { useCluster } from "./rig.js";
import type { RunningServer } from "./server.js";

const cluster = useCluster(["one", "two"] as const);

const client = (srv: RunningServer) => new Client({ url: srv.url, connection: { WebSocket } });

/** Resolves once node's heartbeat in Redis reports at least `sessions` sessions. */
async function heartbeatShows(node: string, sessions: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const raw = await cluster().redis.get(`tickrelay:{nodes}:node:${node}`);
    const got = raw ? (JSON.parse(raw) as { sessions: number }).sessions : 0;
    if (got >= sessions) return;
    if (Date.now() - t0 > 10_000) throw new Error(`node ${node}'s heartbeat shows ${got} sessions, want ${sessions}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function ownerOf(id: string): Promise<string> {
  const got = (await (await fetch(`${cluster().node.one.url}/v1/matches/${id}`)).json()) as { owner: { node: string } };
  return got.owner.node;
}

describe("matchmaking across two instances", () => {
  it("ten players on two instances are matched by skill into duels on the least loaded instance", async () => {
    const { node: { one, two } } = cluster();
    // Instance one carries 20 idle sessions, two none: two is the least loaded for the five
    // duels (ten seats, and the ten players' own sessions are spread evenly).
    const idle: Connection[] = [];
    for (let i = 0; i < 20; i++) {
      const c = client(one);
      await c.authGuest(`idle${i}`);
      const conn = c.connection();
      await conn.connect();
      idle.push(conn);
    }
    await heartbeatShows("one", 20);
    // Players 2k and 2k+1 share a skill band far from the others' (the window starts at 100):
    // a fair matcher pairs exactly them. Partners press "Play" on different instances.
    const players = Array.from({ length: 10 }, (_, i) => client(i % 2 === 0 ? one : two));
    await Promise.all(players.map((c, i) => c.authGuest(`p${i}`)));
    const started = Date.now();
    const matches: Match[] = await Promise.all(
      players.map((c, i) => c.matchmake({ queue: "duel", properties: { skill: 1000 * (1 + Math.floor(i / 2)) + (i % 2) * 15, region: "eu" } })),
    );
    try {
      expect(Date.now() - started).toBeLessThan(5_000);
      for (let k = 0; k < 5; k++) {
        expect(matches[2 * k]!.id).toBe(matches[2 * k + 1]!.id);
        expect(matches[2 * k]!.pid).not.toBe(matches[2 * k + 1]!.pid);
      }
      expect(new Set(matches.map((m) => m.id)).size).toBe(5);
      const owners = await Promise.all([0, 2, 4, 6, 8].map((i) => ownerOf(matches[i]!.id)));
      expect(owners).toEqual(["two", "two", "two", "two", "two"]);
      await Promise.all(matches.map(playToEnd));
      for (let k = 0; k < 5; k++) {
        const seats = [matches[2 * k]!, matches[2 * k + 1]!].map((m) => m.state.get(m.pid) as Seat);
        expect(seats.map((s) => s.hand ?? [])).toEqual([[], []]);
        expect(seats[0]!.tricks + seats[1]!.tricks).toBe(5);
      }
    } finally {
      for (const m of matches) m.connection.close();
      for (const c of idle) c.close();
    }
  });
});
