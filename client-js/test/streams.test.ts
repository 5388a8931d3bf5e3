// The shared stream vectors (protocol/testdata/streams.json): frames clients received in the Go
// property test's runs — joins, lost frames and SYNCs, resumes, takeovers, duplicates, an epoch
// change — with the state after each. The SDK's StateMirror, following PROTOCOL.md's rules,
// must land on the same state, tick and ack after every frame, and deliver the same events.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Connection, Match, MatchStatus, type MatchEvent, Op, ServerDecoder, type ServerMessage, StateMirror } from "../src/index.js";
import { FakeNet } from "./helpers/fake-ws.js";
import { loadStreams } from "./helpers/golden.js";
import { type Json, hexToBytes, meaningToJs } from "./helpers/msgpack-json.js";

const { streams } = loadStreams();

/** A map of the JSON conventions as entries (an empty map is written `{}`). */
function entries(v: unknown): [number, unknown][] {
  if (v instanceof Map) return [...v] as [number, unknown][];
  return Object.entries(v as Record<string, unknown>).map(([k, x]) => [Number(k), x]);
}

/** The state a client sees: public fields with its private ones merged in, by key name. */
function merged(state: Json | undefined, priv: Json | undefined): Record<number, Record<string, unknown>> {
  const out: Record<number, Record<string, unknown>> = {};
  for (const part of [state, priv]) {
    if (part == null) continue;
    for (const [id, fields] of entries(meaningToJs(part))) {
      const f = (out[id] ??= {});
      for (const [k, v] of entries(fields)) f[String(k)] = v;
    }
  }
  return out;
}

const wire = (es: MatchEvent[] | null) => (es ? es.map((e) => [e.kind, e.from, e.data]) : null);

describe("stream vectors", () => {
  it("cover every rule", () => {
    const fits = new Set(streams.flatMap((s) => s.frames.map((f) => f.fit)));
    expect([...fits].sort()).toEqual(["catchup", "gap", "joined", "ok", "stale"]);
  });

  for (const s of streams) {
    it(s.name, () => {
      const mirror = new StateMirror();
      const dec = new ServerDecoder();
      let ack = 0;
      let state: Json | undefined;
      let priv: Json | undefined;
      s.frames.forEach((f, i) => {
        const at = `${s.name} frame ${i}`;
        if (f.state !== undefined) state = f.state;
        if (f.private !== undefined) priv = f.private;
        const m = dec.decode(hexToBytes(f.hex)) as ServerMessage;
        let fit: string;
        let events: unknown = null;
        let direct: unknown = null;
        switch (m.op) {
          case Op.JOINED:
            fit = "joined";
            mirror.reset(m);
            ack = m.ack;
            break;
          case Op.CATCHUP:
            fit = "catchup";
            expect([m.epoch, m.tick], at).toEqual([mirror.epoch, mirror.tick]);
            break;
          case Op.DELTA:
            fit = mirror.check(m);
            if (fit === "ok") {
              expect(mirror.apply(m), at).toBe(true);
              if (m.ack !== null) ack = m.ack;
              events = wire(m.events);
              direct = wire(m.direct);
            }
            break;
          default:
            throw new Error(`${at}: unexpected op ${m.op}`);
        }
        expect(fit, at).toBe(f.fit);
        expect([mirror.epoch, mirror.tick, ack], at).toEqual([f.epoch, f.tick, f.ack]);
        expect(Object.fromEntries(mirror.entities), at).toEqual(merged(state, priv));
        expect(events, at).toEqual(f.events === undefined ? null : meaningToJs(f.events));
        expect(direct, at).toEqual(f.direct === undefined ? null : meaningToJs(f.direct));
      });
    });
  }
});

describe("stream vectors through Match", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  for (const s of streams) {
    it(`${s.name}: same state, ack and events; one SYNC per gap from the mirror's tick`, async () => {
      const net = new FakeNet();
      const conn = new Connection({ url: "ws://server/ws", token: "t", WebSocket: net.WebSocket, pingIntervalMs: 0, idleTimeoutMs: 0 });
      const p = conn.connect();
      await vi.advanceTimersByTimeAsync(0);
      const ws = net.last;
      ws.accept();
      await p;
      const match = new Match(conn);
      match.join("m").catch(() => {}); // the vector's JOINED answers its own req
      await vi.advanceTimersByTimeAsync(0);
      const dec = new ServerDecoder();
      let state: Json | undefined;
      let priv: Json | undefined;
      let got: unknown[] = [];
      match.on("event", (e) => got.push([e.kind, e.from, e.data]));
      let syncing = false;
      s.frames.forEach((f, i) => {
        const at = `${s.name} frame ${i}`;
        if (f.state !== undefined) state = f.state;
        if (f.private !== undefined) priv = f.private;
        const before = ws.messages().filter((m) => m[0] === Op.SYNC).length;
        const have = [match.state.epoch, match.state.tick];
        got = [];
        ws.pushBytes(hexToBytes(f.hex));
        const syncs = ws.messages().filter((m) => m[0] === Op.SYNC);
        const m = dec.decode(hexToBytes(f.hex)) as ServerMessage;
        if (m.op !== Op.DELTA || f.fit !== "gap") syncing = syncing && m.op !== Op.JOINED && m.op !== Op.CATCHUP;
        if (f.fit === "gap" && !syncing) {
          // The first gap asks for a repair from the state the mirror has.
          expect(syncs.length, at).toBe(before + 1);
          expect(syncs.at(-1)!.slice(2), at).toEqual(have);
          syncing = true;
        } else {
          expect(syncs.length, at).toBe(before);
        }
        expect(match.status, at).toBe(MatchStatus.JOINED);
        expect([match.state.epoch, match.state.tick, match.lastAck], at).toEqual([f.epoch, f.tick, f.ack]);
        expect(Object.fromEntries(match.state.entities), at).toEqual(merged(state, priv));
        const want = [...((f.events ? meaningToJs(f.events) : []) as unknown[]), ...((f.direct ? meaningToJs(f.direct) : []) as unknown[])];
        expect(got, at).toEqual(want);
      });
      conn.close();
    });
  }
});
