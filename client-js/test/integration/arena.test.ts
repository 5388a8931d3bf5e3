// The SDK against the real server binary: the arena game (join, inputs, acks, deltas applied to
// the mirror), resume after a dropped socket, and gap repair with SYNC. The server is built and
// started by ./server.ts; if it can't be, every test here fails with the reason.
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, type DeltaMsg, type Match, Op } from "../../src/index.js";
import { useServer } from "./server.js";
import { SocketControl, membersOf, nextEvent, snapshotOf, until } from "./util.js";

const server = useServer();

type Dot = { x: number; y: number };

const client = (opts: ConstructorParameters<typeof Client>[0] = {}) =>
  new Client({ url: server().url, ...opts, connection: { WebSocket, ...opts.connection } });

/** Sends one input and waits for the server to ack it (so each input lands in its own DELTA). */
async function move(m: Match, input: [number, number]): Promise<number> {
  const next = m.seq + 1;
  const acked = nextEvent(m, "ack", `ack ${next} on ${m.id} (pid ${m.pid})`, (s) => s >= next);
  const seq = m.sendInput(input);
  expect(seq).toBeGreaterThan(0);
  await acked;
  return seq;
}

/** Waits until every match has applied the same tick of the stream. */
function sameTick(...ms: Match[]): Promise<void> {
  return until(() => ms.every((m) => m.tick === ms[0]!.tick && m.epoch === ms[0]!.epoch), "the mirrors to reach the same tick");
}

describe("arena against the real server", () => {
  it("join with a reservation, send inputs, get acks; deltas keep the mirror equal to a fresh joiner's", async () => {
    const a = client();
    await a.authGuest("ann");
    const { reservation } = await a.createMatch({ game: "arena" });
    const ann = await a.join(reservation);
    let bob: Match | undefined;
    try {
      expect(ann.game).toBe("arena");
      expect(ann.status).toBe("joined");
      expect(ann.state.schema).toEqual(["x", "y"]);
      expect(ann.tickRate).toBe(20);
      await until(() => ann.state.get(ann.pid) !== undefined, "our dot");
      const start = { ...(ann.state.get(ann.pid) as Dot) };
      const changes: [number, string, unknown][] = [];
      ann.on("fieldChanged", (id, field, value) => changes.push([id, field, value]));
      const deltas: DeltaMsg[] = [];
      ann.on("delta", (d) => deltas.push(d));
      const dx = start.x > 500 ? -1 : 1;
      for (let i = 1; i <= 4; i++) expect(await move(ann, [dx, 0])).toBe(i);
      expect(ann.lastAck).toBe(4);
      const now = ann.state.get(ann.pid) as Dot;
      expect(now.x).toBeCloseTo(start.x + dx * 20, 3);
      expect(now.y).toBeCloseTo(start.y, 3);
      // Each ack came in a DELTA that changed our x, and each DELTA followed the previous one.
      expect(changes.filter(([id, f]) => id === ann.pid && f === "x").length).toBeGreaterThanOrEqual(4);
      expect(deltas.filter((d) => d.ack !== null).map((d) => d.ack)).toEqual([1, 2, 3, 4]);
      for (let i = 1; i < deltas.length; i++) expect(deltas[i]!.tick - deltas[i]!.since).toBe(deltas[i - 1]!.tick);
      expect(ann.tick).toBe(deltas.at(-1)!.tick);

      // A second player joining by id gets a snapshot equal to what ann's deltas built.
      const b = client();
      await b.authGuest("bob");
      bob = await b.join(ann.id);
      await until(() => ann.state.get(bob!.pid) !== undefined, "bob's dot on ann's screen");
      await sameTick(ann, bob);
      expect(snapshotOf(ann.state.entities)).toEqual(snapshotOf(bob.state.entities));
      expect(membersOf(ann.members)).toEqual(membersOf(bob.members));
      expect(bob.members.get(ann.pid)?.name).toBe("ann");

      const r = await ann.ping();
      expect(r.rtt).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(r.offset)).toBe(true);
    } finally {
      ann.connection.close();
      bob?.connection.close();
    }
  });

  it("two players see each other move", async () => {
    const a = client();
    const b = client();
    await a.authGuest("ann");
    await b.authGuest("bob");
    const { match: info } = await a.createMatch({ game: "arena" });
    const ann = await a.join(info.id);
    const bob = await b.join(info.id);
    try {
      await until(() => ann.state.get(bob.pid) !== undefined && bob.state.get(ann.pid) !== undefined, "both dots");
      const before = { ...(ann.state.get(bob.pid) as Dot) };
      const dy = before.y > 500 ? -1 : 1;
      await move(bob, [0, dy]);
      await until(() => (ann.state.get(bob.pid) as Dot).y !== before.y, "bob moving on ann's screen");
      expect((ann.state.get(bob.pid) as Dot).y).toBeCloseTo(before.y + 5 * dy, 3);
      expect((ann.state.get(bob.pid) as Dot).x).toBeCloseTo(before.x, 3);
    } finally {
      ann.connection.close();
      bob.connection.close();
    }
  });

  it("a dropped socket reconnects and RESUMEs: the missed deltas are replayed and the mirror equals a fresh joiner's", async () => {
    const ctl = new SocketControl();
    const a = client({ connection: { WebSocket: ctl.ctor, backoff: { baseMs: 50, maxMs: 200 } } });
    const b = client();
    const c = client();
    await Promise.all([a.authGuest("ann"), b.authGuest("bob"), c.authGuest("cy")]);
    const { match: info } = await b.createMatch({ game: "arena" });
    const bob = await b.join(info.id);
    const ann = await a.join(info.id);
    let cy: Match | undefined;
    const conn = ann.connection;
    const states: string[] = [];
    conn.on("state", (s) => states.push(`${s.state} ${s.code}`));
    let snapshots = 0;
    ann.on("snapshot", () => snapshots++);
    try {
      await until(() => ann.state.get(bob.pid) !== undefined && bob.state.get(ann.pid) !== undefined, "both dots");
      const sid = conn.session!.id;
      expect(await move(ann, [0.5, 0.5])).toBe(1);

      // The network drops; reconnects are held until bob has moved without ann watching.
      ctl.hold();
      const tickAtDrop = ann.tick;
      ctl.last.kill();
      await until(() => conn.state === "reconnecting", "reconnecting");
      expect(states).toContain("reconnecting 1006");
      await until(() => bob.members.get(ann.pid)?.connected === false, "the server to mark ann dropped");
      const by = (bob.state.get(bob.pid) as Dot).y;
      const dy = by > 500 ? -1 : 1;
      for (let i = 0; i < 3; i++) await move(bob, [0, dy]);
      expect(ann.tick).toBe(tickAtDrop); // ann saw none of it
      expect(bob.tick).toBeGreaterThan(tickAtDrop);

      // Let the reconnect through: RESUMED, CATCHUP, then the DELTAs after tickAtDrop.
      const firstAfter: DeltaMsg[] = [];
      const resumed = nextEvent(conn, "resumed", "resumed");
      ann.on("delta", (d) => firstAfter.push(d));
      ctl.release();
      await resumed;
      await until(() => conn.state === "connected", "connected again");
      expect(conn.session!.id).toBe(sid);
      expect(ann.status).toBe("joined");
      await until(() => ann.tick >= bob.tick, "ann caught up");
      const ops = ctl.last.ops;
      expect(ops.indexOf(Op.RESUMED)).toBeGreaterThanOrEqual(0);
      expect(ops.indexOf(Op.CATCHUP)).toBeGreaterThan(ops.indexOf(Op.RESUMED));
      expect(ops).not.toContain(Op.JOINED);
      expect(snapshots).toBe(0);
      expect(firstAfter[0]!.tick - firstAfter[0]!.since).toBe(tickAtDrop);
      expect((ann.state.get(bob.pid) as Dot).y).toBeCloseTo(by + 15 * dy, 3);
      expect(ann.lastAck).toBe(1);

      // The seat and the input seq carry on.
      expect(await move(ann, [-0.5, -0.5])).toBe(2);

      // Everything ann's mirror holds is what a fresh joiner is sent.
      cy = await c.join(info.id);
      await until(() => ann.state.get(cy!.pid) !== undefined && ann.members.get(ann.pid)?.connected === true, "cy's dot, ann back");
      await sameTick(ann, bob, cy);
      expect(snapshotOf(ann.state.entities)).toEqual(snapshotOf(cy.state.entities));
      expect(snapshotOf(bob.state.entities)).toEqual(snapshotOf(cy.state.entities));
      expect(membersOf(ann.members)).toEqual(membersOf(cy.members));
      expect(ctl.sockets.length).toBe(2);
      expect(states.at(-1)).toBe("connected 0");
    } finally {
      ctl.release();
      ann.connection.close();
      bob.connection.close();
      cy?.connection.close();
    }
  });

  it("a lost DELTA is a gap: the SDK sends SYNC and the mirror ends equal to the server's", async () => {
    const ctl = new SocketControl();
    const a = client();
    const b = client({ connection: { WebSocket: ctl.ctor } });
    await a.authGuest("ann");
    await b.authGuest("bob");
    const { match: info } = await a.createMatch({ game: "arena" });
    const ann = await a.join(info.id);
    const bob = await b.join(info.id);
    const gaps: unknown[] = [];
    bob.on("gap", (g) => gaps.push(g));
    try {
      await until(() => bob.state.get(ann.pid) !== undefined && ann.state.get(bob.pid) !== undefined, "both dots");
      const dx = (ann.state.get(ann.pid) as Dot).x > 500 ? -1 : 1;
      for (let i = 0; i < 6; i++) {
        if (i === 2) ctl.dropNext(Op.DELTA);
        await move(ann, [dx, 0]);
      }
      await until(() => ctl.dropped === 1, "one DELTA lost");
      await until(() => gaps.length >= 1, "the gap");
      await sameTick(ann, bob);
      expect(ctl.dropped).toBe(1);
      // Repaired by CATCHUP + DELTAs, or by a JOINED snapshot when those were no longer kept.
      const ops = ctl.last.ops;
      expect(ops.includes(Op.CATCHUP) || ops.filter((op) => op === Op.JOINED).length >= 2).toBe(true);
      expect(snapshotOf(bob.state.entities)).toEqual(snapshotOf(ann.state.entities));
      expect(membersOf(bob.members)).toEqual(membersOf(ann.members));
      expect(bob.epoch).toBe(ann.epoch);
      expect(bob.status).toBe("joined");
    } finally {
      ann.connection.close();
      bob.connection.close();
    }
  });
});
