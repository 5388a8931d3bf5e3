// The wire codec: client messages to bytes, server bytes to typed messages. Layouts follow
// protocol/PROTOCOL.md; every message is a msgpack array whose first element is its op.
//
// Server bytes are untrusted. decodeServer first scans the frame structurally (validate: no
// declared length beyond the bytes left, nesting at most 16, only the timestamp ext, no NaN/Inf,
// valid UTF-8, no trailing bytes) and only then lets @msgpack/msgpack build values, with its own
// length limits set explicitly (its defaults are 4 GiB).

import { Decoder, Encoder } from "@msgpack/msgpack";
import { Op } from "./codes.js";
import { DecodeError } from "./errors.js";

// ---- values ----

/** An entity's fields by key, as on the wire. */
export type FieldMap = Map<number, unknown>;
/** Entities by id. */
export type EntityMap = Map<number, FieldMap>;
/**
 * A DELTA's private fields: an entity mapped to null means it is no longer yours (its owner
 * changed): drop the private fields you had of it.
 */
export type PrivateMap = Map<number, FieldMap | null>;

export interface Member {
  user: string;
  name: string;
  connected: boolean;
}

/** A match event [kind, from, data]; see EventKind. */
export interface MatchEvent {
  kind: number;
  from: number;
  data: unknown;
}

export interface Changes {
  added: EntityMap | null;
  updated: EntityMap | null;
  removed: number[] | null;
}

// ---- client -> server ----

export interface HelloMsg {
  op: typeof Op.HELLO;
  req: number;
  token: string | null;
  client: string;
}
export interface JoinMsg {
  op: typeof Op.JOIN;
  req: number;
  match: string;
  ticket: string | null;
  meta: unknown;
}
export interface LeaveMsg {
  op: typeof Op.LEAVE;
  req: number;
}
export interface InputMsg {
  op: typeof Op.INPUT;
  seq: number;
  seen: number;
  payload: unknown;
}
export interface MessageMsg {
  op: typeof Op.MESSAGE;
  to: number[] | null;
  echo: boolean;
  payload: unknown;
}
export interface PingMsg {
  op: typeof Op.PING;
  t: number;
}
export interface ResumeMsg {
  op: typeof Op.RESUME;
  req: number;
  session: string;
  resumeToken: string;
  epoch: number;
  tick: number;
}
export interface SyncMsg {
  op: typeof Op.SYNC;
  req: number;
  epoch: number;
  tick: number;
}
export type ClientMessage =
  | HelloMsg
  | JoinMsg
  | LeaveMsg
  | InputMsg
  | MessageMsg
  | PingMsg
  | ResumeMsg
  | SyncMsg;

// ---- server -> client ----

export interface WelcomeMsg {
  op: typeof Op.WELCOME;
  session: string;
  resumeToken: string;
  user: string;
  serverTime: number;
  resumeWindow: number;
}
export interface JoinedMsg {
  op: typeof Op.JOINED;
  req: number;
  match: string;
  game: string;
  pid: number;
  epoch: number;
  tick: number;
  tickRate: number;
  state: EntityMap;
  private: EntityMap | null;
  members: Map<number, Member>;
  schema: string[] | null;
  /** The seq of the last INPUT of this seat that the match applied (0 if none). */
  ack: number;
}
export interface DeltaMsg {
  op: typeof Op.DELTA;
  epoch: number;
  tick: number;
  since: number;
  changes: Changes | null;
  events: MatchEvent[] | null;
  ack: number | null;
  private: PrivateMap | null;
  direct: MatchEvent[] | null;
}
/** A session-level EVENT (not part of a match's stream), e.g. a NOTICE. */
export interface EventMsg {
  op: typeof Op.EVENT;
  kind: number;
  from: number;
  data: unknown;
}
export interface PongMsg {
  op: typeof Op.PONG;
  t: number;
  serverTime: number;
}
export interface ErrorMsg {
  op: typeof Op.ERROR;
  code: number;
  message: string;
  refOp: number;
  refId: number;
}
export interface EndMsg {
  op: typeof Op.END;
  epoch: number;
  tick: number;
  reason: number;
  result: unknown;
}
export interface LeftMsg {
  op: typeof Op.LEFT;
  req: number;
}
export interface ResumedMsg {
  op: typeof Op.RESUMED;
  req: number;
  session: string;
  resumeToken: string;
}
export interface CatchupMsg {
  op: typeof Op.CATCHUP;
  req: number;
  epoch: number;
  tick: number;
}
/** Server-to-server only; decoded for completeness (and the shared golden vectors). */
export interface RelayMsg {
  op: typeof Op.RELAY;
  match: string;
  epoch: number;
  tick: number;
  frame: Uint8Array;
  tails: Map<number, Uint8Array> | null;
}
export type ServerMessage =
  | WelcomeMsg
  | JoinedMsg
  | DeltaMsg
  | EventMsg
  | PongMsg
  | ErrorMsg
  | EndMsg
  | LeftMsg
  | ResumedMsg
  | CatchupMsg
  | RelayMsg;

// ---- encoding ----

// Integral numbers become the smallest msgpack int, others float64 (what the golden vectors and
// the Go codec expect). Game payloads are plain values: null, booleans, numbers, strings,
// Uint8Array, arrays and plain objects (string keys).
const encoder = new Encoder({ ignoreUndefined: true });

/** The wire array of a client message (op first, elements positional). */
export function clientArray(m: ClientMessage): unknown[] {
  switch (m.op) {
    case Op.HELLO:
      return [m.op, m.req, m.token, m.client];
    case Op.JOIN:
      return [m.op, m.req, m.match, m.ticket, m.meta ?? null];
    case Op.LEAVE:
      return [m.op, m.req];
    case Op.INPUT:
      return [m.op, m.seq, m.seen, m.payload ?? null];
    case Op.MESSAGE:
      return [m.op, m.to, m.echo, m.payload ?? null];
    case Op.PING:
      return [m.op, m.t];
    case Op.RESUME:
      return [m.op, m.req, m.session, m.resumeToken, m.epoch, m.tick];
    case Op.SYNC:
      return [m.op, m.req, m.epoch, m.tick];
  }
}

/** Encodes a client message into one frame. */
export function encodeClient(m: ClientMessage): Uint8Array {
  return encoder.encode(clientArray(m));
}

// ---- decoding ----

/** Bounds on what the decoder accepts from the server. */
export interface DecodeLimits {
  /** Largest frame accepted, bytes. Default 256 KiB (a JOINED snapshot can be big). */
  maxFrameBytes?: number;
  /** Longest str, bytes. Default 16 KiB. */
  maxStrLength?: number;
  /** Longest bin, bytes. Default 16 KiB. */
  maxBinLength?: number;
  /** Most elements in one array. Default 16384. */
  maxArrayLength?: number;
  /** Most pairs in one map. Default 16384. */
  maxMapLength?: number;
  /** Longest ext payload, bytes. Default 16 (timestamps are 4, 8 or 12). */
  maxExtLength?: number;
}

export const DEFAULT_LIMITS: Required<DecodeLimits> = {
  maxFrameBytes: 256 * 1024,
  maxStrLength: 16 * 1024,
  maxBinLength: 16 * 1024,
  maxArrayLength: 16 * 1024,
  maxMapLength: 16 * 1024,
  maxExtLength: 16,
};

/** The deepest level a value may sit at: the message array is level 1, its elements level 2. */
export const MAX_DEPTH = 16;

const utf8 = /* @__PURE__ */ (() =>
  typeof TextDecoder === "undefined" ? null : new TextDecoder("utf-8", { fatal: true }))();

/**
 * Checks the structure of one msgpack value filling `b` exactly, without building it. Throws
 * DecodeError. Allocates nothing proportional to declared lengths: a container's count is
 * checked against the bytes left before anything else.
 */
export function validate(b: Uint8Array, limits: Required<DecodeLimits> = DEFAULT_LIMITS): void {
  const n = b.length;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const stack: number[] = []; // items left in each enclosing container
  let items = 1; // values left at the current level
  let off = 0;
  const need = (k: number) => {
    if (k > n - off) throw new DecodeError("msgpack: truncated");
  };
  const open = (count: number, max: number, what: string) => {
    if (count > max) throw new DecodeError(`msgpack: ${what} of ${count} exceeds the limit ${max}`);
    const slots = what === "map" ? count * 2 : count;
    // Each element takes at least one byte.
    if (slots > n - off) throw new DecodeError(`msgpack: ${what} of ${count} longer than the frame`);
    // This container sits at level stack.length + 1 and its elements one deeper: no value may
    // sit deeper than MAX_DEPTH (PROTOCOL.md, the same rule as the Go decoder).
    if (stack.length + 1 > MAX_DEPTH || (slots > 0 && stack.length + 2 > MAX_DEPTH)) {
      throw new DecodeError("msgpack: nested too deep");
    }
    stack.push(items);
    items = slots;
  };
  const str = (len: number) => {
    if (len > limits.maxStrLength) throw new DecodeError(`msgpack: str of ${len} exceeds the limit`);
    need(len);
    if (utf8) {
      let ascii = true;
      for (let i = off; i < off + len; i++) if (b[i]! >= 0x80) { ascii = false; break; }
      if (!ascii) {
        try {
          utf8.decode(b.subarray(off, off + len));
        } catch {
          throw new DecodeError("msgpack: invalid UTF-8");
        }
      }
    }
    off += len;
  };
  const bin = (len: number) => {
    if (len > limits.maxBinLength) throw new DecodeError(`msgpack: bin of ${len} exceeds the limit`);
    need(len);
    off += len;
  };
  const ext = (len: number) => {
    if (len > limits.maxExtLength) throw new DecodeError(`msgpack: ext of ${len} exceeds the limit`);
    need(1 + len);
    if (view.getInt8(off) !== -1 || (len !== 4 && len !== 8 && len !== 12)) {
      throw new DecodeError("msgpack: ext types other than the timestamp are refused");
    }
    off += 1 + len;
  };
  for (;;) {
    if (items === 0) {
      if (stack.length === 0) break;
      items = stack.pop()!;
      continue;
    }
    items--;
    need(1);
    const c = b[off++]!;
    if (c <= 0x7f || c >= 0xe0 || c === 0xc0 || c === 0xc2 || c === 0xc3) continue;
    if ((c & 0xf0) === 0x90) { open(c & 0x0f, limits.maxArrayLength, "array"); continue; }
    if ((c & 0xf0) === 0x80) { open(c & 0x0f, limits.maxMapLength, "map"); continue; }
    if ((c & 0xe0) === 0xa0) { str(c & 0x1f); continue; }
    switch (c) {
      case 0xcc: case 0xd0: need(1); off += 1; break;
      case 0xcd: case 0xd1: need(2); off += 2; break;
      case 0xce: case 0xd2: need(4); off += 4; break;
      case 0xcf: case 0xd3: need(8); off += 8; break;
      case 0xca:
        need(4);
        if (!Number.isFinite(view.getFloat32(off))) throw new DecodeError("msgpack: NaN or Inf");
        off += 4;
        break;
      case 0xcb:
        need(8);
        if (!Number.isFinite(view.getFloat64(off))) throw new DecodeError("msgpack: NaN or Inf");
        off += 8;
        break;
      case 0xd9: need(1); off += 1; str(b[off - 1]!); break;
      case 0xda: need(2); off += 2; str(view.getUint16(off - 2)); break;
      case 0xdb: need(4); off += 4; str(view.getUint32(off - 4)); break;
      case 0xc4: need(1); off += 1; bin(b[off - 1]!); break;
      case 0xc5: need(2); off += 2; bin(view.getUint16(off - 2)); break;
      case 0xc6: need(4); off += 4; bin(view.getUint32(off - 4)); break;
      case 0xdc: need(2); off += 2; open(view.getUint16(off - 2), limits.maxArrayLength, "array"); break;
      case 0xdd: need(4); off += 4; open(view.getUint32(off - 4), limits.maxArrayLength, "array"); break;
      case 0xde: need(2); off += 2; open(view.getUint16(off - 2), limits.maxMapLength, "map"); break;
      case 0xdf: need(4); off += 4; open(view.getUint32(off - 4), limits.maxMapLength, "map"); break;
      case 0xd4: ext(1); break;
      case 0xd5: ext(2); break;
      case 0xd6: ext(4); break;
      case 0xd7: ext(8); break;
      case 0xd8: ext(16); break;
      case 0xc7: need(1); off += 1; ext(b[off - 1]!); break;
      case 0xc8: need(2); off += 2; ext(view.getUint16(off - 2)); break;
      case 0xc9: need(4); off += 4; ext(view.getUint32(off - 4)); break;
      default:
        throw new DecodeError(`msgpack: invalid byte 0x${c.toString(16)}`);
    }
  }
  if (off !== n) throw new DecodeError("msgpack: trailing bytes after the message");
}

/** Decodes server frames into typed messages; one per connection (not reentrant-safe to share). */
export class ServerDecoder {
  readonly limits: Required<DecodeLimits>;
  private readonly decoder: Decoder;

  constructor(limits: DecodeLimits = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    const l = this.limits;
    this.decoder = new Decoder({
      maxStrLength: l.maxStrLength,
      maxBinLength: l.maxBinLength,
      maxArrayLength: l.maxArrayLength,
      maxMapLength: l.maxMapLength,
      maxExtLength: l.maxExtLength,
    });
  }

  /** The raw msgpack value of a frame, after the checks above. Throws DecodeError. */
  decodeValue(frame: Uint8Array): unknown {
    if (frame.length > this.limits.maxFrameBytes) {
      throw new DecodeError(`frame of ${frame.length} bytes exceeds ${this.limits.maxFrameBytes}`);
    }
    validate(frame, this.limits);
    try {
      return this.decoder.decode(frame);
    } catch (err) {
      throw new DecodeError(`msgpack: ${(err as Error).message}`);
    }
  }

  /**
   * Decodes one server frame. Returns null for an op this SDK does not know (a later protocol
   * version may add some); throws DecodeError for anything malformed.
   */
  decode(frame: Uint8Array): ServerMessage | null {
    return serverMessage(this.decodeValue(frame));
  }
}

const defaultDecoder = /* @__PURE__ */ new ServerDecoder();

/** Decodes one server frame with the default limits (see ServerDecoder.decode). */
export function decodeServer(frame: Uint8Array): ServerMessage | null {
  return defaultDecoder.decode(frame);
}

// ---- typed views of decoded values ----

const MAX_UINT = 0xffffffff;

function fail(what: string): never {
  throw new DecodeError(`malformed message: ${what}`);
}
function uint(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_UINT) fail(`${what} is not a uint`);
  return v;
}
function num(v: unknown, what: string): number {
  if (typeof v !== "number") fail(`${what} is not a number`);
  return v;
}
function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) fail(`${what} is not an int`);
  return v;
}
function str(v: unknown, what: string): string {
  if (typeof v !== "string") fail(`${what} is not a str`);
  return v;
}
function bool(v: unknown, what: string): boolean {
  if (typeof v !== "boolean") fail(`${what} is not a bool`);
  return v;
}
function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what} is not an array`);
  return v;
}
function bytes(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what} is not a bin`);
  return v;
}
function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
/** A msgpack map with uint keys. @msgpack/msgpack turns map keys into object property names. */
function uintMap<T>(v: unknown, what: string, value: (x: unknown) => T): Map<number, T> {
  if (!isMap(v)) fail(`${what} is not a map`);
  const out = new Map<number, T>();
  for (const k of Object.keys(v)) out.set(uint(Number(k), `${what} key`), value(v[k]));
  return out;
}
function fields(v: unknown): FieldMap {
  return uintMap(v, "fields", (x) => x);
}
function entities(v: unknown, what: string): EntityMap {
  return uintMap(v, what, fields);
}
function optEntities(v: unknown, what: string): EntityMap | null {
  return v === null ? null : entities(v, what);
}
function events(v: unknown, what: string): MatchEvent[] | null {
  if (v === null) return null;
  return arr(v, what).map((e) => {
    const a = arr(e, "event");
    if (a.length < 3) fail("event has fewer than 3 elements");
    return { kind: uint(a[0], "event kind"), from: uint(a[1], "event from"), data: a[2] };
  });
}
function member(v: unknown): Member {
  const a = arr(v, "member");
  if (a.length < 3) fail("member has fewer than 3 elements");
  return { user: str(a[0], "member user"), name: str(a[1], "member name"), connected: bool(a[2], "member connected") };
}

// Fewest elements per op, the op included.
const MIN_LEN: Record<number, number> = {
  [Op.WELCOME]: 6,
  [Op.JOINED]: 12,
  [Op.DELTA]: 9,
  [Op.EVENT]: 4,
  [Op.PONG]: 3,
  [Op.ERROR]: 5,
  [Op.END]: 5,
  [Op.LEFT]: 2,
  [Op.RESUMED]: 4,
  [Op.CATCHUP]: 4,
  [Op.RELAY]: 6,
};

/** Turns a decoded msgpack value into a typed server message (null for unknown ops). */
export function serverMessage(v: unknown): ServerMessage | null {
  const a = arr(v, "message");
  if (a.length === 0) fail("empty message");
  const op = uint(a[0], "op");
  const min = MIN_LEN[op];
  if (min === undefined) return null;
  if (a.length < min) fail(`op ${op} has ${a.length} elements, wants ${min}`);
  switch (op) {
    case Op.WELCOME:
      return {
        op,
        session: str(a[1], "session"),
        resumeToken: str(a[2], "resumeToken"),
        user: str(a[3], "user"),
        serverTime: int(a[4], "serverTime"),
        resumeWindow: uint(a[5], "resumeWindow"),
      };
    case Op.JOINED:
      return {
        op,
        req: uint(a[1], "req"),
        match: str(a[2], "match"),
        game: str(a[3], "game"),
        pid: uint(a[4], "pid"),
        epoch: uint(a[5], "epoch"),
        tick: uint(a[6], "tick"),
        tickRate: uint(a[7], "tickRate"),
        state: entities(a[8] ?? {}, "state"),
        private: optEntities(a[9], "private"),
        members: uintMap(a[10] ?? {}, "members", member),
        schema: a[11] === null ? null : arr(a[11], "schema").map((s) => str(s, "schema name")),
        ack: a.length > 12 ? uint(a[12], "ack") : 0,
      };
    case Op.DELTA: {
      let changes: Changes | null = null;
      if (a[4] !== null) {
        const c = arr(a[4], "changes");
        if (c.length < 3) fail("changes has fewer than 3 elements");
        changes = {
          added: optEntities(c[0], "added"),
          updated: optEntities(c[1], "updated"),
          removed: c[2] === null ? null : arr(c[2], "removed").map((e) => uint(e, "removed id")),
        };
      }
      return {
        op,
        epoch: uint(a[1], "epoch"),
        tick: uint(a[2], "tick"),
        since: uint(a[3], "since"),
        changes,
        events: events(a[5], "events"),
        ack: a[6] === null ? null : uint(a[6], "ack"),
        private: a[7] === null ? null : uintMap(a[7], "private", (x) => (x === null ? null : fields(x))),
        direct: events(a[8], "direct"),
      };
    }
    case Op.EVENT:
      return { op, kind: uint(a[1], "kind"), from: uint(a[2], "from"), data: a[3] };
    case Op.PONG:
      return { op, t: num(a[1], "t"), serverTime: int(a[2], "serverTime") };
    case Op.ERROR:
      return {
        op,
        code: uint(a[1], "code"),
        message: str(a[2], "message"),
        refOp: uint(a[3], "refOp"),
        refId: uint(a[4], "refId"),
      };
    case Op.END:
      return { op, epoch: uint(a[1], "epoch"), tick: uint(a[2], "tick"), reason: uint(a[3], "reason"), result: a[4] };
    case Op.LEFT:
      return { op, req: uint(a[1], "req") };
    case Op.RESUMED:
      return { op, req: uint(a[1], "req"), session: str(a[2], "session"), resumeToken: str(a[3], "resumeToken") };
    case Op.CATCHUP:
      return { op, req: uint(a[1], "req"), epoch: uint(a[2], "epoch"), tick: uint(a[3], "tick") };
    case Op.RELAY:
      return {
        op,
        match: str(a[1], "match"),
        epoch: uint(a[2], "epoch"),
        tick: uint(a[3], "tick"),
        frame: bytes(a[4], "frame"),
        tails: a[5] === null ? null : uintMap(a[5], "tails", (x) => bytes(x, "tail")),
      };
  }
  return null;
}
