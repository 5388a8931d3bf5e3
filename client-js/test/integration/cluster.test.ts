// Two SDK clients on two instances of one cluster (a real redis-server and two server
// processes started with --redis): one match, played through the relay. The redis-server is
// Debian's (/usr/bin/redis-server), started here on a free port without persistence and
// stopped by PID; if it is missing the test fails (it never skips).
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, type Match } from "../../src/index.js";
import { useCluster } from "./rig.js";
import type { RunningServer } from "./server.js";
import { membersOf, nextEvent, snapshotOf, until } from "./util.js";

const cluster = useCluster(["one", "two"] as const);

const client = (srv: RunningServer) => new Client({ url: srv.url, connection: { WebSocket } });

async function move(m: Match, input: [number, number]): Promise<void> {
  const next = m.seq + 1;
  const acked = nextEvent(m, "ack", `ack ${next} (pid ${m.pid})`, (s) => s >= next);
  m.sendInput(input);
  await acked;
}

describe("a cluster of two instances", () => {
  it("two SDK clients on two instances play one arena match and see the same state", async () => {
    const { node: { one, two } } = cluster();
    const a = client(one);
    await a.authGuest("ann");
    const { match: info, reservation } = await a.createMatch({ game: "arena" });
    const ann = await a.join(reservation);
    const b = client(two);
    await b.authGuest("bob");
    // The listing and the match's owner are the same from the other instance.
    const got = await (await fetch(`${two.url}/v1/matches/${info.id}`)).json();
    expect(got.owner.node).toBe("one");
    // bob joins through instance two with a ticket issued there (it names the owner's address;
    // it is used on two anyway, relayed).
    const res = await b.reserveSeat(info.id);
    expect(res.address).toBe(one.wsUrl);
    const bob = await b.join({ ...res, address: two.wsUrl });
    try {
      expect(bob.pid).not.toBe(ann.pid);
      for (let i = 0; i < 5; i++) {
        await move(ann, [1, 0]);
        await move(bob, [0, 1]);
      }
      await until(() => ann.tick === bob.tick && ann.epoch === bob.epoch, "both mirrors at the same tick");
      expect(snapshotOf(bob.state.entities)).toEqual(snapshotOf(ann.state.entities));
      expect(membersOf(bob.members)).toEqual(membersOf(ann.members));
      expect(bob.lastAck).toBe(5);
    } finally {
      ann.connection.close();
      bob.connection.close();
    }
  });
});
