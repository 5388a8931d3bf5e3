// The decoder treats server bytes as untrusted: limits, structure, and the layouts' minimums.
import { Decoder } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, DecodeError, Op, ServerDecoder, decodeServer, encodeClient, validate } from "../src/index.js";
import { type Json, hexToBytes, jsonToMsgpack } from "./helpers/msgpack-json.js";

const refuse = (b: Uint8Array, dec = new ServerDecoder()) => expect(() => dec.decode(b)).toThrow(DecodeError);

describe("decoder limits", () => {
  it("refuses a 5-byte array32/map32/str32/bin32 header at the header, without allocating", () => {
    for (const hex of ["ddffffffff", "dfffffffff", "dbffffffff", "c6ffffffff", "dd00010000", "9122dd7fffffff"]) {
      const b = hexToBytes(hex);
      const t0 = performance.now();
      expect(() => validate(b), hex).toThrow(DecodeError);
      refuse(b);
      // Refused by arithmetic on the header, not after building a huge array.
      expect(performance.now() - t0).toBeLessThan(50);
    }
    // Even without the structural pre-check, @msgpack/msgpack configured with our limits
    // refuses the declared length before allocating (its defaults would accept 4 GiB).
    const raw = new Decoder({
      maxArrayLength: DEFAULT_LIMITS.maxArrayLength,
      maxMapLength: DEFAULT_LIMITS.maxMapLength,
      maxStrLength: DEFAULT_LIMITS.maxStrLength,
      maxBinLength: DEFAULT_LIMITS.maxBinLength,
      maxExtLength: DEFAULT_LIMITS.maxExtLength,
    });
    expect(() => raw.decode(hexToBytes("ddffffffff"))).toThrow(/max/i);
  });

  it("refuses a declared length larger than the bytes left", () => {
    // array16 of 3 elements with 2 present; map of 2 pairs with 3 bytes left.
    refuse(hexToBytes("dc00030102"));
    refuse(hexToBytes("82010203"));
  });

  it("refuses oversized strings and bins even when the bytes are there", () => {
    const long = "a".repeat(DEFAULT_LIMITS.maxStrLength + 1);
    refuse(jsonToMsgpack([35, 6, 0, long]));
    expect(decodeServer(jsonToMsgpack([35, 6, 0, "a".repeat(1000)]))).toMatchObject({ op: Op.EVENT });
    const small = new ServerDecoder({ maxStrLength: 16, maxBinLength: 4 });
    refuse(jsonToMsgpack([35, 6, 0, "x".repeat(17)]), small);
    refuse(jsonToMsgpack([35, 6, 0, { bin: "0102030405" }]), small);
  });

  it("refuses frames above maxFrameBytes", () => {
    const dec = new ServerDecoder({ maxFrameBytes: 64 });
    refuse(jsonToMsgpack([35, 6, 0, "y".repeat(80)]), dec);
    expect(dec.decode(jsonToMsgpack([35, 6, 0, "y".repeat(40)]))).not.toBeNull();
  });

  it("refuses a value deeper than level 16 (the message is level 1, its elements level 2)", () => {
    // The same rule as the Go decoder (protocol.MaxDepth): the innermost value counts.
    let v: Json = 1;
    for (let i = 0; i < 14; i++) v = [v]; // 14 arrays at levels 2–15, the 1 at level 16
    expect(decodeServer(jsonToMsgpack([35, 6, 0, v]))).not.toBeNull();
    refuse(jsonToMsgpack([35, 6, 0, [v]])); // the 1 at level 17
    let e: Json = [];
    for (let i = 0; i < 14; i++) e = [e]; // an empty array at level 16 holds nothing deeper
    expect(decodeServer(jsonToMsgpack([35, 6, 0, e]))).not.toBeNull();
    refuse(jsonToMsgpack([35, 6, 0, [e]]));
  });

  it("refuses NaN, Inf, foreign ext types, invalid UTF-8, reserved bytes and trailing bytes", () => {
    refuse(hexToBytes("942306" + "00" + "cb7ff8000000000000")); // NaN float64
    refuse(hexToBytes("942306" + "00" + "ca7f800000")); // +Inf float32
    refuse(hexToBytes("942306" + "00" + "d40101")); // fixext1 type 1
    expect(decodeServer(hexToBytes("942306" + "00" + "d6ff00000001"))).not.toBeNull(); // timestamp32
    refuse(hexToBytes("942306" + "00" + "a2c328")); // invalid UTF-8
    expect(decodeServer(hexToBytes("942306" + "00" + "a2c3a9"))).toMatchObject({ data: "é" });
    refuse(hexToBytes("942306" + "00" + "c1")); // never used
    refuse(hexToBytes("922703" + "00")); // LEFT then a trailing byte
  });

  it("refuses messages with fewer elements than the layout, accepts more", () => {
    refuse(jsonToMsgpack([34, 1, 11, 1, null, null, null, null])); // DELTA of 8
    refuse(jsonToMsgpack([39])); // LEFT without req
    expect(decodeServer(jsonToMsgpack([39, 3, "future"]))).toEqual({ op: Op.LEFT, req: 3 });
    refuse(jsonToMsgpack([]));
    refuse(jsonToMsgpack({ op: 39 }));
  });

  it("refuses wrong types where the layout says what to expect", () => {
    refuse(jsonToMsgpack([39, -1])); // req not a uint
    refuse(jsonToMsgpack([39, "3"]));
    refuse(jsonToMsgpack([34, 1, 11, 1, [null, { map: [[-1, { map: [] }]] }, null], null, null, null, null])); // negative entity id
    refuse(jsonToMsgpack([34, 1, 11, 1, [null, { map: [[1.5, { map: [] }]] }, null], null, null, null, null]));
    refuse(jsonToMsgpack([34, 1, 11, 1, null, [[4, 1]], null, null, null])); // short event
  });

  it("returns null for ops it does not know (a later version may add some)", () => {
    expect(decodeServer(jsonToMsgpack([99, 1, 2]))).toBeNull();
    expect(decodeServer(jsonToMsgpack([1, 1, null, "x"]))).toBeNull(); // a client op
  });

  it("maps integer keys of state maps to numbers, and leaves game payloads as plain objects", () => {
    const m = decodeServer(
      jsonToMsgpack([34, 1, 11, 1, [null, { map: [[7, { map: [[3, { hp: 10, tags: ["a"] }]] }]] }, null], null, null, null, null]),
    );
    expect(m).toMatchObject({ op: Op.DELTA });
    const upd = (m as { changes: { updated: Map<number, Map<number, unknown>> } }).changes.updated;
    expect(upd.get(7)?.get(3)).toEqual({ hp: 10, tags: ["a"] });
  });

  it("refuses __proto__ keys in payloads", () => {
    refuse(jsonToMsgpack([35, 6, 0, { map: [["__proto__", { polluted: true }]] }]));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("encoder", () => {
  it("encodes integers in the smallest form and other numbers as float64", () => {
    expect(Array.from(encodeClient({ op: Op.INPUT, seq: 1, seen: 0, payload: [1, -1, 0.5] }))).toEqual(
      Array.from(hexToBytes("94040100" + "9301ff" + "cb3fe0000000000000")),
    );
  });

  it("drops undefined object properties (so optional fields do not become nil keys)", () => {
    expect(Array.from(encodeClient({ op: Op.MESSAGE, to: null, echo: false, payload: { text: "hi", x: undefined } }))).toEqual(
      Array.from(hexToBytes("9405c0c281a474657874a26869")),
    );
  });
});
