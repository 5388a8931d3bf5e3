// The duel game on the real server: each player's hand is a private field that only its owner's
// mirror ever holds; the other player sees the card count and the cards played, never the hand.
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, type EntityMap, type Match, Op, decodeServer } from "../../src/index.js";
import { useServer } from "./server.js";
import { SocketControl, nextEvent, until } from "./util.js";

const server = useServer();

const TABLE = 1000;
const KEY_HAND = 5;
type Player = { hand?: number[]; count: number; tricks: number; played: number | null };
type Table = { turn: number; round: number; phase: string; lead: number | null };

describe("duel against the real server", () => {
  it("a hand is visible only to its owner through the SDK mirror", async () => {
    const a = new Client({ url: server().url, connection: { WebSocket } });
    // bob's frames are kept, to check that none ever carried ann's hand.
    const wire = new SocketControl();
    wire.record = true;
    const b = new Client({ url: server().url, connection: { WebSocket: wire.ctor } });
    await a.authGuest("ann");
    await b.authGuest("bob");
    const { match: info } = await a.createMatch({ game: "duel" });
    expect(info.max_players).toBe(2);
    const ann = await a.join(info.id);
    const bob = await b.join(info.id);
    try {
      expect(ann.state.schema).toEqual(["turn", "round", "phase", "lead", "tricks", "hand", "played", "count"]);
      const mine = (m: Match) => m.state.get(m.pid) as Player | undefined;
      const theirs = (m: Match, other: Match) => m.state.get(other.pid) as Player | undefined;
      await until(
        () => mine(ann)?.hand?.length === 5 && mine(bob)?.hand?.length === 5,
        "both hands dealt",
      );
      await until(() => (ann.state.get(TABLE) as Table).phase === "playing" && theirs(ann, bob)?.count === 5, "the table");
      const handA = [...mine(ann)!.hand!];
      const handB = [...mine(bob)!.hand!];
      // Dealt from 1–10 without overlap, sorted.
      expect([...handA, ...handB].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(handA).toEqual([...handA].sort((x, y) => x - y));
      // The other player's entity is there, public fields only.
      expect(theirs(ann, bob)).toBeDefined();
      expect(theirs(ann, bob)!.hand).toBeUndefined();
      expect("hand" in theirs(ann, bob)!).toBe(false);
      expect(theirs(bob, ann)!.hand).toBeUndefined();
      expect(theirs(ann, bob)!.count).toBe(5);
      expect(theirs(bob, ann)!.count).toBe(5);
      // Neither the table nor anything else carries a hand.
      for (const m of [ann, bob]) {
        for (const [id, f] of m.state.entities) if (id !== m.pid) expect(f).not.toHaveProperty("hand");
      }

      // The leader (the first seat: ann) plays her lowest card.
      const table = ann.state.get(TABLE) as Table;
      expect(table.turn).toBe(ann.pid);
      const card = handA[0]!;
      const seen = nextEvent(bob, "fieldChanged", "ann's card on bob's side", (id, f) => id === ann.pid && f === "played");
      expect(ann.sendInput([card])).toBe(1);
      await seen;
      await until(() => ann.lastAck === 1 && mine(ann)!.hand!.length === 4, "ann's hand after the play");
      await until(() => theirs(bob, ann)!.count === 4, "ann's count on bob's side");
      expect(mine(ann)!.hand).toEqual(handA.slice(1));
      expect(theirs(bob, ann)!.played).toBe(card);
      expect(theirs(bob, ann)!.hand).toBeUndefined();
      expect((bob.state.get(TABLE) as Table).lead).toBe(card);
      expect((bob.state.get(TABLE) as Table).turn).toBe(bob.pid);
      expect(mine(bob)!.hand).toEqual(handB); // bob's hand untouched

      // Out of turn: refused with a game event to ann alone.
      const refused = nextEvent(ann, "gameEvent", "the refusal", (name) => name === "refused");
      ann.sendInput([handA[1]!]);
      const [, why] = await refused;
      expect(why).toBe("not your turn");
      expect(mine(ann)!.hand).toEqual(handA.slice(1));

      // On the wire: bob's private parts only ever name bob's entity, and no public part
      // (snapshot, added, updated) has a hand in it.
      const entitiesWithHand = (em: EntityMap | null | undefined) =>
        [...(em ?? new Map()).entries()].filter(([, f]) => f.has(KEY_HAND)).map(([id]) => id);
      let privates = 0;
      for (const frame of wire.last.frames) {
        const msg = decodeServer(frame);
        if (msg?.op === Op.JOINED) {
          expect(entitiesWithHand(msg.state)).toEqual([]);
          for (const id of (msg.private ?? new Map()).keys()) expect(id).toBe(bob.pid);
          if (msg.private?.get(bob.pid)?.has(KEY_HAND)) privates++;
        } else if (msg?.op === Op.DELTA) {
          expect(entitiesWithHand(msg.changes?.added)).toEqual([]);
          expect(entitiesWithHand(msg.changes?.updated)).toEqual([]);
          for (const id of (msg.private ?? new Map()).keys()) expect(id).toBe(bob.pid);
          if (msg.private?.get(bob.pid)?.has(KEY_HAND)) privates++;
        }
      }
      expect(privates).toBeGreaterThanOrEqual(1); // bob's own hand did come, privately
    } finally {
      ann.connection.close();
      bob.connection.close();
    }
  });

  it("a third player is refused: the duel holds two", async () => {
    const cs = ["ann", "bob", "cy"].map(() => new Client({ url: server().url, connection: { WebSocket } }));
    await Promise.all(cs.map((c, i) => c.authGuest(["ann", "bob", "cy"][i])));
    const { match: info } = await cs[0]!.createMatch({ game: "duel" });
    const ms: Match[] = [];
    try {
      ms.push(await cs[0]!.join(info.id));
      ms.push(await cs[1]!.join(info.id));
      const err = await cs[2]!.join(info.id).then(
        () => null,
        (e: { code: number }) => e,
      );
      expect(err).not.toBeNull();
      expect([5, 6]).toContain(err!.code); // MATCH_FULL or JOIN_REFUSED
    } finally {
      for (const m of ms) m.connection.close();
    }
  });
});
