// The shared stream vectors (protocol/testdata/streams.json): frames clients received in the Go
// property test's runs — joins, lost frames and SYNCs, resumes, takeovers, duplicates, an epoch
// change — with the state after each. The SDK's StateMirror, following PROTOCOL.md's rules,
// must land on the same state, tick and ack after every frame, and deliver the same events.
import { describe, expect, it } from "vitest";
import { type MatchEvent, Op, ServerDecoder, type ServerMessage, StateMirror } from "../src/index.js";
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
