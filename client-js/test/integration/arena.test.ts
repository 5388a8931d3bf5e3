// The SDK against the real server binary (skipped until server/cmd/tickrelay exists).
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type Match, PendingInputs, type WebSocketLike } from "../../src/index.js";
import { type RunningServer, SERVER_PRESENT, startServer } from "./server.js";

let server: RunningServer;

function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      if (cond()) return resolve();
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

describe.skipIf(!SERVER_PRESENT)("against the real server", () => {
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const client = () => new Client({ url: server.url, connection: { WebSocket } });

  it("guest auth, create an arena, join with the reservation, move, and see acks", async () => {
    const c = client();
    await c.authGuest("ann");
    const { reservation } = await c.createMatch({ game: "arena" });
    const match = await c.join(reservation);
    try {
      expect(match.game).toBe("arena");
      expect(match.state.schema).toEqual(["x", "y"]);
      await until(() => match.state.get(match.pid) !== undefined, "our dot");
      const start = { ...match.state.get(match.pid)! } as { x: number; y: number };
      const pending = new PendingInputs<[number, number]>();
      match.on("ack", (s) => pending.ack(s));
      const dx = start.x > 500 ? -1 : 1;
      for (let i = 0; i < 4; i++) {
        pending.push(match.sendInput([dx, 0]), [dx, 0]);
        await new Promise((r) => setTimeout(r, 60));
      }
      await until(() => match.lastAck === 4, "ack 4");
      const now = match.state.get(match.pid) as { x: number; y: number };
      expect(now.x).toBeCloseTo(start.x + dx * 20, 3);
      expect(now.y).toBeCloseTo(start.y, 3);
      const r = await match.ping();
      expect(r.rtt).toBeGreaterThanOrEqual(0);
    } finally {
      match.connection.close();
    }
  });

  it("survives a dropped socket: reconnects, RESUMEs the session, keeps the seat and the stream", async () => {
    const sockets: WebSocket[] = [];
    class Tracked extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    const c = new Client({ url: server.url, connection: { WebSocket: Tracked, backoff: { baseMs: 50, maxMs: 200 } } });
    await c.authGuest("cy");
    const { reservation } = await c.createMatch({ game: "arena" });
    const match = await c.join(reservation);
    const conn = match.connection;
    const states: string[] = [];
    conn.on("state", (s) => states.push(s.state));
    try {
      await until(() => match.state.get(match.pid) !== undefined, "our dot");
      const sid = conn.session!.id;
      expect(match.sendInput([1, 0])).toBe(1);
      await until(() => match.lastAck === 1, "ack 1");
      sockets.at(-1)!.terminate(); // the network drops: the client sees 1006
      await until(() => states.includes("reconnecting"), "reconnecting");
      await until(() => conn.state === "connected", "connected again");
      expect(conn.session!.id).toBe(sid);
      expect(sockets.length).toBe(2);
      expect(match.status).toBe("joined");
      const x = (match.state.get(match.pid) as { x: number }).x;
      expect(match.sendInput([-1, 0])).toBe(2);
      await until(() => match.lastAck === 2, "ack 2 after the resume");
      expect((match.state.get(match.pid) as { x: number }).x).toBeCloseTo(Math.max(0, x - 5), 3);
    } finally {
      conn.close();
    }
  });

  it("repairs a missed DELTA with SYNC: the mirror ends equal to the server's", async () => {
    let dropNext = false;
    let dropped = 0;
    // A socket that loses one DELTA on request, as a broken relay path would.
    class Lossy implements WebSocketLike {
      private inner: WebSocket;
      onopen: ((ev: unknown) => void) | null = null;
      onmessage: ((ev: { data: unknown }) => void) | null = null;
      onclose: ((ev: unknown) => void) | null = null;
      onerror: ((ev: unknown) => void) | null = null;
      constructor(url: string, protocols?: string | string[]) {
        this.inner = new WebSocket(url, protocols);
        this.inner.onopen = (e) => this.onopen?.(e);
        this.inner.onclose = (e) => this.onclose?.(e);
        this.inner.onerror = (e) => this.onerror?.(e);
        this.inner.onmessage = (e) => {
          const b = new Uint8Array(e.data as ArrayBuffer);
          // A DELTA is a 9-element array with op 34: 0x99 0x22.
          if (dropNext && b[0] === 0x99 && b[1] === 0x22) {
            dropNext = false;
            dropped++;
            return;
          }
          this.onmessage?.(e);
        };
      }
      get binaryType(): string {
        return this.inner.binaryType;
      }
      set binaryType(v: string) {
        this.inner.binaryType = v as "arraybuffer";
      }
      get readyState(): number {
        return this.inner.readyState;
      }
      send(d: Uint8Array): void {
        this.inner.send(d);
      }
      close(code?: number, reason?: string): void {
        this.inner.close(code, reason);
      }
    }
    const a = client();
    const b = new Client({ url: server.url, connection: { WebSocket: Lossy } });
    await a.authGuest("ann");
    await b.authGuest("bob");
    const { match: info } = await a.createMatch({ game: "arena" });
    const ma = await a.join(info.id);
    const mb = await b.join(info.id);
    const gaps: unknown[] = [];
    mb.on("gap", (g) => gaps.push(g));
    try {
      await until(() => mb.state.get(ma.pid) !== undefined && ma.state.get(ma.pid) !== undefined, "ann's dot on both");
      const dx = (ma.state.get(ma.pid) as { x: number }).x > 500 ? -1 : 1;
      for (let i = 0; i < 6; i++) {
        if (i === 2) dropNext = true;
        ma.sendInput([dx, 0]);
        await new Promise((r) => setTimeout(r, 60));
      }
      await until(() => ma.lastAck === 6, "ann's acks");
      await until(() => mb.tick >= ma.tick, "bob caught up");
      expect(dropped).toBe(1);
      expect(gaps.length).toBeGreaterThanOrEqual(1);
      expect(mb.state.get(ma.pid)).toEqual(ma.state.get(ma.pid));
      expect(mb.epoch).toBe(ma.epoch);
    } finally {
      ma.connection.close();
      mb.connection.close();
    }
  });

  it("two players see each other move; chat goes through a relay match", async () => {
    const a = client();
    const b = client();
    await a.authGuest("ann");
    await b.authGuest("bob");
    const { match: info } = await a.createMatch({ game: "arena" });
    const ma = await a.join(info.id);
    const mb = await b.join(info.id);
    const { match: room } = await a.createMatch({ game: "relay" });
    const ca = await a.join(room.id);
    const got: unknown[] = [];
    const cb = await b.join(room.id, { setup: (m: Match) => m.on("message", (from, p) => got.push([from, p])) });
    try {
      await until(() => ma.state.get(mb.pid) !== undefined && mb.state.get(ma.pid) !== undefined, "both dots");
      const before = { ...(ma.state.get(mb.pid) as { x: number; y: number }) };
      const dy = before.y > 500 ? -1 : 1;
      mb.sendInput([0, dy]);
      await until(() => (ma.state.get(mb.pid) as { y: number }).y !== before.y, "bob moving on ann's screen");
      await until(() => ca.members.size === 2, "both in the room");
      expect(ca.sendMessage({ text: "hi bob" })).toBe(true);
      await until(() => got.length === 1, "the message");
      expect(got).toEqual([[ca.pid, { text: "hi bob" }]]);
    } finally {
      for (const m of [ma, mb, ca, cb]) m.connection.close();
    }
  });
});
