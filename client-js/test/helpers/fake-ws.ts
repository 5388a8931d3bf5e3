// An in-memory WebSocket for tests: the SDK gets FakeSocket through the `WebSocket` option, and
// the test plays the server with the helpers below.
import { decode } from "@msgpack/msgpack";
import type { WebSocketCtor, WebSocketLike } from "../../src/index.js";
import { type Json, jsonToMsgpack } from "./msgpack-json.js";

export class FakeSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  sent: Uint8Array[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(new Uint8Array(data));
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // ---- the server's side ----

  /** Completes the upgrade and sends WELCOME. */
  accept(session = "s-1", resumeToken = "r-1", user = "guest-1"): void {
    this.readyState = 1;
    this.onopen?.({});
    this.push([32, session, resumeToken, user, 1_700_000_000_000, 30_000]);
  }

  /** Sends one server message, given in the golden JSON conventions. */
  push(msg: Json): void {
    const b = jsonToMsgpack(msg);
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    this.onmessage?.({ data: ab });
  }

  /** Sends raw bytes as a binary frame. */
  pushBytes(b: Uint8Array): void {
    this.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) });
  }

  /** The server closes the connection (or it breaks: 1006). */
  drop(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** Messages the client sent, decoded. */
  messages(): unknown[][] {
    return this.sent.map((b) => decode(b) as unknown[]);
  }

  /** The last message the client sent with `op`. */
  last(op: number): unknown[] | undefined {
    return this.messages().filter((m) => m[0] === op).at(-1);
  }
}

/** Records every socket the SDK opens. */
export class FakeNet {
  sockets: FakeSocket[] = [];
  readonly WebSocket: WebSocketCtor;
  constructor() {
    const sockets = this.sockets;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    };
  }
  get last(): FakeSocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error("no socket opened");
    return s;
  }
}

// ---- server message builders (golden JSON conventions) ----

/** map{entity: map{key: value}} with int keys; numbers given as f32. */
export function ents(e: Record<number, Record<number, Json>>): Json {
  return {
    map: Object.entries(e).map(([id, f]) => [
      Number(id),
      { map: Object.entries(f).map(([k, v]) => [Number(k), typeof v === "number" ? { f32: v } : v]) },
    ]),
  };
}

export function joined(o: {
  req: number;
  match?: string;
  game?: string;
  pid?: number;
  epoch?: number;
  tick?: number;
  tickRate?: number;
  state?: Json;
  private?: Json;
  members?: [number, string, string, boolean][];
  schema?: string[] | null;
  ack?: number;
}): Json {
  const a: Json[] = [
    33,
    o.req,
    o.match ?? "m1",
    o.game ?? "arena",
    o.pid ?? 2,
    o.epoch ?? 1,
    o.tick ?? 10,
    o.tickRate ?? 20,
    o.state ?? ents({}),
    o.private ?? null,
    { map: (o.members ?? [[1, "u1", "ann", true], [2, "u2", "bob", true]]).map(([pid, u, n, c]) => [pid, [u, n, c]]) },
    o.schema === undefined ? ["x", "y"] : o.schema,
  ];
  if (o.ack !== undefined) a.push(o.ack);
  return a;
}

export function delta(o: {
  epoch?: number;
  tick: number;
  since?: number;
  added?: Json;
  updated?: Json;
  removed?: number[];
  events?: Json[];
  ack?: number;
  private?: Json;
  direct?: Json[];
}): Json {
  const changes =
    o.added || o.updated || o.removed ? [o.added ?? null, o.updated ?? null, o.removed ?? null] : null;
  return [34, o.epoch ?? 1, o.tick, o.since ?? 1, changes, o.events ?? null, o.ack ?? null, o.private ?? null, o.direct ?? null];
}
