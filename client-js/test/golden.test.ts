// Every wire vector shared with the Go suite (protocol/testdata/golden.json): s2c vectors are
// decoded by the SDK and compared with their meaning; c2s vectors are built through the SDK's
// encoder from their meaning and compared byte for byte.
import { describe, expect, it } from "vitest";
import { type ClientMessage, type ServerMessage, Op, ServerDecoder, encodeClient } from "../src/index.js";
import { loadGolden } from "./helpers/golden.js";
import { type Json, bytesToHex, hexToBytes, jsonToMsgpack, meaningToJs } from "./helpers/msgpack-json.js";

const golden = loadGolden();
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const opOf = (name: string) => (Op as Record<string, number>)[name]!;

/** Turns a decoded SDK field back into its wire shape (arrays where the SDK gives objects). */
function wireShape(field: string, v: unknown): unknown {
  if (v === null) return null;
  const ev = (e: { kind: number; from: number; data: unknown }) => [e.kind, e.from, e.data];
  switch (field) {
    case "events":
    case "direct":
      return (v as { kind: number; from: number; data: unknown }[]).map(ev);
    case "changes": {
      const c = v as { added: unknown; updated: unknown; removed: unknown };
      return [c.added, c.updated, c.removed];
    }
    case "members":
      return new Map(
        [...(v as Map<number, { user: string; name: string; connected: boolean }>)].map(([pid, m]) => [
          pid,
          [m.user, m.name, m.connected],
        ]),
      );
  }
  return v;
}

describe("golden vectors", () => {
  it("the JSON conventions helper reproduces every vector (sanity check of the test itself)", () => {
    for (const v of golden.vectors) {
      const { op, ...rest } = v.meaning;
      const arr: Json[] = [opOf(op), ...golden.layouts[op]!.map((name) => rest[name]!)];
      expect(bytesToHex(jsonToMsgpack(arr)), v.name).toBe(v.hex);
    }
  });

  const s2c = golden.vectors.filter((v) => v.dir === "s2c");
  const c2s = golden.vectors.filter((v) => v.dir === "c2s");
  expect(s2c.length).toBeGreaterThan(10);
  expect(c2s.length).toBeGreaterThan(10);

  for (const v of s2c) {
    it(`decodes s2c ${v.name}`, () => {
      const dec = new ServerDecoder();
      const m = dec.decode(hexToBytes(v.hex)) as ServerMessage & Record<string, unknown>;
      expect(m).not.toBeNull();
      const { op, ...rest } = v.meaning;
      expect(m.op).toBe(opOf(op));
      const layout = golden.layouts[op]!;
      const got: Record<string, unknown> = {};
      const want: Record<string, unknown> = {};
      for (const name of layout) {
        expect(m, `${v.name}: field ${camel(name)}`).toHaveProperty(camel(name));
        got[name] = wireShape(name, m[camel(name)]);
        want[name] = meaningToJs(rest[name]!);
      }
      expect(got).toEqual(want);
    });
  }

  for (const v of c2s) {
    it(`encodes c2s ${v.name}`, () => {
      const { op, ...rest } = v.meaning;
      const msg: Record<string, unknown> = { op: opOf(op) };
      for (const name of golden.layouts[op]!) msg[camel(name)] = meaningToJs(rest[name]!);
      expect(bytesToHex(encodeClient(msg as unknown as ClientMessage))).toBe(v.hex);
    });
  }
});
