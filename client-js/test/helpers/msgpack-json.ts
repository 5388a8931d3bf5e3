// The golden vectors' JSON value conventions (protocol/jsonvalue.go), for tests:
//
//   null, true, false, "text"        nil, bool, str
//   integral number                  the smallest msgpack int
//   non-integral number              float64
//   {"f32": x} / {"f64": x}          float32 / float64 explicitly
//   {"bin": "00ff"}                  bin
//   [a, b]                           array
//   {"map": [[k, v], ...]}           map with any keys, in that order
//   any other object                 map with str keys, sorted by key
//
// jsonToMsgpack turns a meaning into exact bytes (used to check the vectors and to play the
// server in tests); meaningToJs turns it into the JS values the SDK decodes to (numbers, Uint8Array,
// Map for {"map": ...}, plain objects).

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function special(v: { [k: string]: Json }): [string, Json] | null {
  const keys = Object.keys(v);
  if (keys.length !== 1) return null;
  const k = keys[0]!;
  return k === "f32" || k === "f64" || k === "bin" || k === "map" ? [k, v[k]!] : null;
}

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

class Writer {
  buf: number[] = [];
  u8(x: number) {
    this.buf.push(x & 0xff);
  }
  be(x: bigint, n: number) {
    for (let i = n - 1; i >= 0; i--) this.buf.push(Number((x >> BigInt(8 * i)) & 0xffn));
  }
  head(len: number, fix: number, fixMax: number, c8: number | null, c16: number, c32: number) {
    if (len <= fixMax) this.u8(fix | len);
    else if (c8 !== null && len <= 0xff) { this.u8(c8); this.u8(len); }
    else if (len <= 0xffff) { this.u8(c16); this.be(BigInt(len), 2); }
    else { this.u8(c32); this.be(BigInt(len), 4); }
  }
  int(x: number) {
    if (x >= 0) {
      if (x <= 0x7f) this.u8(x);
      else if (x <= 0xff) { this.u8(0xcc); this.u8(x); }
      else if (x <= 0xffff) { this.u8(0xcd); this.be(BigInt(x), 2); }
      else if (x <= 0xffffffff) { this.u8(0xce); this.be(BigInt(x), 4); }
      else { this.u8(0xcf); this.be(BigInt(x), 8); }
    } else {
      if (x >= -32) this.u8(0xe0 | (x + 32));
      else if (x >= -128) { this.u8(0xd0); this.u8(x); }
      else if (x >= -32768) { this.u8(0xd1); this.be(BigInt(x) & 0xffffn, 2); }
      else if (x >= -2147483648) { this.u8(0xd2); this.be(BigInt(x) & 0xffffffffn, 4); }
      else { this.u8(0xd3); this.be(BigInt.asUintN(64, BigInt(x)), 8); }
    }
  }
  f32(x: number) {
    const d = new DataView(new ArrayBuffer(4));
    d.setFloat32(0, x);
    this.u8(0xca);
    for (let i = 0; i < 4; i++) this.u8(d.getUint8(i));
  }
  f64(x: number) {
    const d = new DataView(new ArrayBuffer(8));
    d.setFloat64(0, x);
    this.u8(0xcb);
    for (let i = 0; i < 8; i++) this.u8(d.getUint8(i));
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.head(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
    for (const x of b) this.u8(x);
  }
  value(v: Json) {
    if (v === null) return this.u8(0xc0);
    if (v === false) return this.u8(0xc2);
    if (v === true) return this.u8(0xc3);
    if (typeof v === "string") return this.str(v);
    if (typeof v === "number") {
      if (Number.isInteger(v) && Math.abs(v) < 2 ** 53) return this.int(v);
      return this.f64(v);
    }
    if (Array.isArray(v)) {
      this.head(v.length, 0x90, 15, null, 0xdc, 0xdd);
      for (const e of v) this.value(e);
      return;
    }
    const sp = special(v);
    if (sp) {
      const [k, x] = sp;
      if (k === "f32") return this.f32(x as number);
      if (k === "f64") return this.f64(x as number);
      if (k === "bin") {
        const b = hexToBytes(x as string);
        this.head(b.length, 0, -1, 0xc4, 0xc5, 0xc6);
        for (const e of b) this.u8(e);
        return;
      }
      const pairs = x as [Json, Json][];
      this.head(pairs.length, 0x80, 15, null, 0xde, 0xdf);
      for (const [pk, pv] of pairs) {
        this.value(pk);
        this.value(pv);
      }
      return;
    }
    const keys = Object.keys(v).sort();
    this.head(keys.length, 0x80, 15, null, 0xde, 0xdf);
    for (const k of keys) {
      this.str(k);
      this.value(v[k]!);
    }
  }
}

/** The msgpack bytes of a meaning. */
export function jsonToMsgpack(v: Json): Uint8Array {
  const w = new Writer();
  w.value(v);
  return Uint8Array.from(w.buf);
}

/** The JS value the SDK should produce for a meaning. */
export function meaningToJs(v: Json): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(meaningToJs);
  const sp = special(v);
  if (sp) {
    const [k, x] = sp;
    if (k === "f32") return Math.fround(x as number);
    if (k === "f64") return x;
    if (k === "bin") return hexToBytes(x as string);
    return new Map((x as [Json, Json][]).map(([pk, pv]) => [meaningToJs(pk), meaningToJs(pv)]));
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = meaningToJs(v[k]!);
  return out;
}
