// The mirror alone: snapshots, deltas, private fields, schema names, removal, gaps, epochs.
import { describe, expect, it } from "vitest";
import { type DeltaMsg, type EntityMap, type JoinedMsg, StateMirror, serverMessage } from "../src/index.js";
import { decode } from "@msgpack/msgpack";
import { type Json, jsonToMsgpack } from "./helpers/msgpack-json.js";
import { delta, ents, joined } from "./helpers/fake-ws.js";

const msg = <T>(j: Json) => serverMessage(decode(jsonToMsgpack(j))) as T;
const snap = (o: Parameters<typeof joined>[0]) => msg<JoinedMsg>(joined(o));
const d = (o: Parameters<typeof delta>[0]) => msg<DeltaMsg>(delta(o));

function recorder() {
  const log: unknown[][] = [];
  const m = new StateMirror({
    entityAdded: (id, f) => log.push(["add", id, { ...f }]),
    fieldChanged: (id, name, v, prev) => log.push(["set", id, name, v, prev]),
    entityRemoved: (id) => log.push(["del", id]),
  });
  return { m, log };
}

const plain = (m: StateMirror) => Object.fromEntries([...m.entities].map(([id, f]) => [id, { ...f }]));

describe("StateMirror", () => {
  it("applies a snapshot with schema names", () => {
    const { m, log } = recorder();
    m.reset(snap({ req: 1, tick: 10, state: ents({ 1: { 0: 10, 1: 20 }, 2: { 0: 500, 1: 500 } }) }));
    expect(plain(m)).toEqual({ 1: { x: 10, y: 20 }, 2: { x: 500, y: 500 } });
    expect([m.epoch, m.tick, m.ready]).toEqual([1, 10, true]);
    expect(log).toEqual([
      ["add", 1, { x: 10, y: 20 }],
      ["add", 2, { x: 500, y: 500 }],
    ]);
  });

  it("names fields by key without a schema, and never through __proto__", () => {
    const { m } = recorder();
    m.reset(snap({ req: 1, schema: null, state: ents({ 1: { 0: 0, 1: "waiting" } }) }));
    expect(plain(m)).toEqual({ 1: { 0: 0, 1: "waiting" } });
    m.reset(snap({ req: 1, schema: ["__proto__", "y"], state: ents({ 1: { 0: 1, 1: 2 } }) }));
    expect(Object.getPrototypeOf(m.get(1))).toBe(Object.prototype);
    expect(m.get(1)).toEqual({ 0: 1, y: 2 });
  });

  it("applies removed, added, updated in order and advances the tick", () => {
    const { m, log } = recorder();
    m.reset(snap({ req: 1, tick: 10, state: ents({ 1: { 0: 10, 1: 20 }, 2: { 0: 1, 1: 1 } }) }));
    log.length = 0;
    const f1 = m.get(1);
    expect(m.apply(d({ tick: 11, added: ents({ 3: { 0: 7, 1: 8 } }), updated: ents({ 1: { 0: 12.5 } }), removed: [2] }))).toBe(true);
    expect(plain(m)).toEqual({ 1: { x: 12.5, y: 20 }, 3: { x: 7, y: 8 } });
    expect(m.get(1)).toBe(f1); // updated in place
    expect(m.tick).toBe(11);
    expect(log).toEqual([
      ["del", 2],
      ["add", 3, { x: 7, y: 8 }],
      ["set", 1, "x", 12.5, 10],
    ]);
    // A DELTA following tick 11 after quiet ticks (since > 1).
    expect(m.apply(d({ tick: 15, since: 4, updated: ents({ 3: { 1: 9 } }) }))).toBe(true);
    expect(m.get(3)).toEqual({ x: 7, y: 9 });
    expect(m.tick).toBe(15);
  });

  it("an entity removed and spawned again in one tick is replaced, not deleted", () => {
    const { m, log } = recorder();
    m.reset(snap({ req: 1, tick: 10, state: ents({ 1: { 0: 10, 1: 20 } }), private: ents({ 1: { 2: 5 } }) }));
    log.length = 0;
    // The server's DELTA lists the id in removed (the old entity) and in added (the new one).
    expect(m.apply(d({ tick: 11, added: ents({ 1: { 1: 3 } }), removed: [1] }))).toBe(true);
    expect(plain(m)).toEqual({ 1: { y: 3 } });
    expect(log).toEqual([
      ["del", 1],
      ["add", 1, { y: 3 }],
    ]);
  });

  it("drops the private fields of an entity that is no longer yours (private: nil)", () => {
    const { m, log } = recorder();
    m.reset(
      snap({ req: 1, schema: ["x", "y", "hand"], state: ents({ 1: { 0: 1 } }), private: ents({ 1: { 2: ["rock"] } }) }),
    );
    log.length = 0;
    expect(m.apply(d({ tick: 11, private: { map: [[1, null]] } }))).toBe(true);
    expect(plain(m)).toEqual({ 1: { x: 1 } });
    expect(log).toEqual([["set", 1, "hand", undefined, ["rock"]]]);
    // A private field learnt from a DELTA is dropped the same way.
    m.apply(d({ tick: 12, private: ents({ 1: { 1: 4 } }) }));
    expect(m.apply(d({ tick: 13, private: { map: [[1, null]] } }))).toBe(true);
    expect(plain(m)).toEqual({ 1: { x: 1 } });
  });

  it("merges private fields for the owner, and removal takes them too", () => {
    const { m, log } = recorder();
    m.reset(
      snap({
        req: 1,
        schema: ["x", "y", "hand"],
        state: ents({ 1: { 0: 1, 1: 2 } }),
        private: ents({ 1: { 2: ["rock"] }, 100: { 2: ["paper"] } }),
      }),
    );
    expect(plain(m)).toEqual({ 1: { x: 1, y: 2, hand: ["rock"] }, 100: { hand: ["paper"] } });
    log.length = 0;
    m.apply(d({ tick: 11, private: ents({ 1: { 2: ["scissors"] }, 101: { 0: 5 } }) }));
    expect(plain(m)).toEqual({ 1: { x: 1, y: 2, hand: ["scissors"] }, 100: { hand: ["paper"] }, 101: { x: 5 } });
    expect(log).toEqual([
      ["set", 1, "hand", ["scissors"], ["rock"]],
      ["add", 101, { x: 5 }],
    ]);
    m.apply(d({ tick: 12, removed: [1, 100] }));
    expect(plain(m)).toEqual({ 101: { x: 5 } });
  });

  it("does not touch anything on a gap, and tells stale deltas apart", () => {
    const { m, log } = recorder();
    m.reset(snap({ req: 1, tick: 10, state: ents({ 1: { 0: 10, 1: 20 } }) }));
    log.length = 0;
    const before = plain(m);
    const missed = d({ tick: 13, since: 2, updated: ents({ 1: { 0: 99 } }), removed: [1] }); // follows 11
    expect(m.check(missed)).toBe("gap");
    expect(m.apply(missed)).toBe(false);
    expect(plain(m)).toEqual(before);
    expect(m.tick).toBe(10);
    expect(log).toEqual([]);
    expect(m.check(d({ tick: 10 }))).toBe("stale");
    expect(m.check(d({ tick: 9, since: 1 }))).toBe("stale");
    expect(m.check(d({ tick: 11 }))).toBe("ok");
  });

  it("treats another epoch as a gap until a snapshot of that epoch replaces the state", () => {
    const { m, log } = recorder();
    m.reset(snap({ req: 1, epoch: 1, tick: 10, state: ents({ 1: { 0: 10, 1: 20 }, 2: { 0: 1, 1: 1 } }) }));
    log.length = 0;
    const other = d({ epoch: 2, tick: 11 });
    expect(m.check(other)).toBe("gap");
    expect(m.apply(other)).toBe(false);
    m.reset(snap({ req: 0, epoch: 2, tick: 3, state: ents({ 1: { 0: 10, 1: 25 }, 4: { 0: 0, 1: 0 } }) }));
    expect([m.epoch, m.tick]).toEqual([2, 3]);
    expect(plain(m)).toEqual({ 1: { x: 10, y: 25 }, 4: { x: 0, y: 0 } });
    expect(log).toEqual([
      ["del", 2],
      ["set", 1, "y", 25, 20],
      ["add", 4, { x: 0, y: 0 }],
    ]);
    expect(m.apply(d({ epoch: 2, tick: 4 }))).toBe(true);
  });

  it("refuses deltas before any snapshot", () => {
    const { m } = recorder();
    expect(m.check(d({ tick: 1 }))).toBe("gap");
    const e: EntityMap = new Map();
    expect(m.apply({ epoch: 0, tick: 1, since: 1, changes: { added: e, updated: null, removed: null }, private: null })).toBe(false);
  });
});
