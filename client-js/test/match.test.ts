// Connection + Match against an in-memory server: join, inputs and acks, events, gap repair
// with SYNC, snapshots, reconnect with RESUME, terminal closes, ping.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CloseCode,
  Connection,
  ConnectionState,
  ErrorCode,
  EventKind,
  LeaveReason,
  Match,
  MatchStatus,
  Op,
  type StateChange,
  TickrelayError,
} from "../src/index.js";
import { FakeNet, type FakeSocket, delta, ents, joined } from "./helpers/fake-ws.js";

const settle = () => vi.advanceTimersByTimeAsync(0);

let net: FakeNet;
let conn: Connection;
let states: StateChange[];

beforeEach(() => {
  vi.useFakeTimers();
  net = new FakeNet();
  conn = new Connection({
    url: "ws://server/ws",
    token: "tok en",
    WebSocket: net.WebSocket,
    backoff: { baseMs: 100, maxMs: 1000, random: () => 0.5 },
    pingIntervalMs: 0,
    idleTimeoutMs: 0,
  });
  states = [];
  conn.on("state", (s) => states.push(s));
});

afterEach(() => {
  conn.close();
  vi.useRealTimers();
});

async function connected(): Promise<FakeSocket> {
  const p = conn.connect();
  await settle();
  const ws = net.last;
  ws.accept();
  await p;
  return ws;
}

/** Connects, joins "m1" as pid 2 at tick 10 with two dots, returns the socket and match. */
async function joinedMatch(): Promise<{ ws: FakeSocket; match: Match; log: unknown[][] }> {
  const ws = await connected();
  const match = new Match(conn);
  const log: unknown[][] = [];
  match.on("entityAdded", (id, f) => log.push(["add", id, { ...f }]));
  match.on("fieldChanged", (id, name, v) => log.push(["set", id, name, v]));
  match.on("entityRemoved", (id) => log.push(["del", id]));
  const p = match.join("m1");
  await settle();
  const join = ws.last(Op.JOIN)!;
  expect(join).toEqual([Op.JOIN, join[1], "m1", null, null]);
  ws.push(joined({ req: join[1] as number, tick: 10, state: ents({ 1: { 0: 10, 1: 20 }, 2: { 0: 500, 1: 500 } }) }));
  await p;
  return { ws, match, log };
}

describe("Connection", () => {
  it("opens with the subprotocol, the token in the query, arraybuffer frames, and waits for WELCOME", async () => {
    const p = conn.connect();
    expect(conn.state).toBe(ConnectionState.CONNECTING);
    await settle();
    const ws = net.last;
    expect(ws.url).toBe("ws://server/ws?token=tok%20en");
    expect(ws.protocols).toBe("tickrelay.v1");
    expect(ws.binaryType).toBe("arraybuffer");
    expect(conn.state).toBe(ConnectionState.CONNECTING);
    ws.accept("s-1", "r-1", "guest-7");
    await p;
    expect(conn.state).toBe(ConnectionState.CONNECTED);
    expect(conn.session).toEqual({ id: "s-1", resumeToken: "r-1", user: "guest-7", resumeWindow: 30_000 });
    expect(states.map((s) => s.state)).toEqual(["connecting", "connected"]);
  });

  it("measures RTT and clock offset with PING/PONG", async () => {
    const ws = await connected();
    const p = conn.ping();
    const ping = ws.last(Op.PING)!;
    expect(typeof ping[1]).toBe("number");
    ws.push([Op.PONG, ping[1] as number, Date.now() + 5000]);
    const r = await p;
    expect(r.rtt).toBeGreaterThanOrEqual(0);
    expect(r.offset).toBeGreaterThan(4000);
    expect(conn.rtt).toBe(r.rtt);
  });

  it("closes for good on a terminal code, failing what waits", async () => {
    const ws = await connected();
    const p = conn.call((req) => ({ op: Op.LEAVE, req }));
    ws.drop(CloseCode.AUTH, "token expired");
    await expect(p).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
    expect(conn.state).toBe(ConnectionState.CLOSED);
    expect(states.at(-1)).toMatchObject({ state: "closed", code: 4100 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.sockets.length).toBe(1);
  });

  it("reconnects with backoff after a reconnectable code (and after 1006)", async () => {
    const ws = await connected();
    ws.drop(1006);
    expect(conn.state).toBe(ConnectionState.RECONNECTING);
    expect(states.at(-1)).toMatchObject({ state: "reconnecting", code: 1006 });
    await vi.advanceTimersByTimeAsync(49); // full jitter with random 0.5: 50 ms
    expect(net.sockets.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(net.sockets.length).toBe(2);
    net.last.drop(1006); // refused again: the window doubles
    await vi.advanceTimersByTimeAsync(99);
    expect(net.sockets.length).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(net.sockets.length).toBe(3);
  });

  it("reports NOTICE events (e.g. the server draining)", async () => {
    const ws = await connected();
    const got: unknown[] = [];
    conn.on("event", (e) => got.push(e));
    ws.push([Op.EVENT, EventKind.NOTICE, 0, [4000, "draining"]]);
    expect(got).toEqual([{ op: Op.EVENT, kind: 7, from: 0, data: [4000, "draining"] }]);
  });

  it("survives a malformed frame", async () => {
    const ws = await connected();
    const errors: TickrelayError[] = [];
    conn.on("error", (e) => errors.push(e));
    ws.pushBytes(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]));
    expect(errors[0]?.code).toBe(ErrorCode.MALFORMED);
    expect(conn.state).toBe(ConnectionState.CONNECTED);
  });
});

describe("Match", () => {
  it("joins by id and mirrors the snapshot with schema names", async () => {
    const { match, log } = await joinedMatch();
    expect(match.status).toBe(MatchStatus.JOINED);
    expect([match.id, match.game, match.pid, match.tickRate, match.tick, match.epoch]).toEqual(["m1", "arena", 2, 20, 10, 1]);
    expect(match.state.get(2)).toEqual({ x: 500, y: 500 });
    expect(match.members.get(1)).toEqual({ user: "u1", name: "ann", connected: true });
    expect(log).toEqual([
      ["add", 1, { x: 10, y: 20 }],
      ["add", 2, { x: 500, y: 500 }],
    ]);
  });

  it("joins with a reservation ticket", async () => {
    const ws = await connected();
    const match = new Match(conn);
    const p = match.join({ ticket: "tkt", meta: { skill: 1500 } });
    await settle();
    const j = ws.last(Op.JOIN)!;
    expect(j.slice(2)).toEqual(["", "tkt", { skill: 1500 }]);
    ws.push(joined({ req: j[1] as number }));
    await expect(p).resolves.toBe(match);
  });

  it("rejects a refused join with the server's error", async () => {
    const ws = await connected();
    const match = new Match(conn);
    const p = match.join("m9");
    await settle();
    const j = ws.last(Op.JOIN)!;
    ws.push([Op.ERROR, ErrorCode.MATCH_FULL, "match is full", Op.JOIN, j[1] as number]);
    await expect(p).rejects.toMatchObject({ code: ErrorCode.MATCH_FULL, codeName: "MATCH_FULL" });
    expect(match.status).toBe(MatchStatus.IDLE);
    expect(conn.slot).toBeNull();
  });

  it("continues the seat's seq from JOINED's ack (the seat's inputs came from another connection)", async () => {
    const ws = await connected();
    const match = new Match(conn);
    const p = match.join("m1");
    await settle();
    const join = ws.last(Op.JOIN)!;
    ws.push(joined({ req: join[1] as number, tick: 10, ack: 41 }));
    await p;
    expect(match.lastAck).toBe(41);
    expect(match.sendInput([1, 0])).toBe(42); // seq 1 would be ignored as a duplicate
  });

  it("sends inputs with increasing seq and the seen tick; acks arrive in deltas", async () => {
    const { ws, match, log } = await joinedMatch();
    log.length = 0;
    expect(match.sendInput([1, 0])).toBe(1);
    expect(match.sendInput([0.5, -0.25])).toBe(2);
    expect(ws.messages().filter((m) => m[0] === Op.INPUT)).toEqual([
      [Op.INPUT, 1, 10, [1, 0]],
      [Op.INPUT, 2, 10, [0.5, -0.25]],
    ]);
    const acks: number[] = [];
    match.on("ack", (s) => acks.push(s));
    const deltas: number[] = [];
    match.on("delta", (d) => deltas.push(d.tick));
    ws.push(delta({ tick: 11, updated: ents({ 2: { 0: 505 } }), ack: 1 }));
    ws.push(delta({ tick: 12 })); // ack nil: unchanged
    ws.push(delta({ tick: 13, updated: ents({ 2: { 0: 507.5, 1: 498.75 } }), ack: 2 }));
    expect(acks).toEqual([1, 2]);
    expect(deltas).toEqual([11, 12, 13]);
    expect(match.state.get(2)).toEqual({ x: 507.5, y: 498.75 });
    expect(log).toEqual([
      ["set", 2, "x", 505],
      ["set", 2, "x", 507.5],
      ["set", 2, "y", 498.75],
    ]);
    expect(match.sendInput([0, 1])).toBe(3);
    expect(ws.last(Op.INPUT)).toEqual([Op.INPUT, 3, 13, [0, 1]]);
  });

  it("on a gap leaves the mirror untouched, sends one SYNC, and resumes after CATCHUP", async () => {
    const { ws, match, log } = await joinedMatch();
    log.length = 0;
    const gaps: unknown[] = [];
    match.on("gap", (g) => gaps.push(g));
    ws.push(delta({ tick: 13, since: 2, updated: ents({ 1: { 0: 99 } }) })); // follows 11: missed it
    ws.push(delta({ tick: 14, updated: ents({ 1: { 0: 100 } }) }));
    expect(match.state.get(1)).toEqual({ x: 10, y: 20 });
    expect(match.tick).toBe(10);
    expect(log).toEqual([]);
    const syncs = ws.messages().filter((m) => m[0] === Op.SYNC);
    expect(syncs).toEqual([[Op.SYNC, syncs[0]![1], 1, 10]]);
    expect(gaps.length).toBe(2);
    // The server replays from 10.
    ws.push([Op.CATCHUP, syncs[0]![1] as number, 1, 10]);
    ws.push(delta({ tick: 11, updated: ents({ 1: { 0: 50 } }) }));
    ws.push(delta({ tick: 13, since: 2, updated: ents({ 1: { 0: 99 } }) }));
    ws.push(delta({ tick: 14, updated: ents({ 1: { 0: 100 } }) }));
    expect(match.state.get(1)).toEqual({ x: 100, y: 20 });
    expect(match.tick).toBe(14);
    // A later gap asks again.
    ws.push(delta({ tick: 20, since: 2 }));
    expect(ws.messages().filter((m) => m[0] === Op.SYNC).length).toBe(2);
    expect(ws.last(Op.SYNC)!.slice(2)).toEqual([1, 14]);
  });

  it("on another epoch asks for SYNC and takes the replacing JOINED as a snapshot", async () => {
    const { ws, match, log } = await joinedMatch();
    log.length = 0;
    const snaps: number[] = [];
    match.on("snapshot", (m) => snaps.push(m.epoch));
    ws.push(delta({ epoch: 2, tick: 1, since: 1 }));
    const sync = ws.last(Op.SYNC)!;
    expect(sync.slice(2)).toEqual([1, 10]);
    ws.push(joined({ req: sync[1] as number, epoch: 2, tick: 1, state: ents({ 2: { 0: 500, 1: 500 }, 3: { 0: 1, 1: 2 } }) }));
    expect(snaps).toEqual([2]);
    expect([match.epoch, match.tick]).toEqual([2, 1]);
    expect(log).toEqual([
      ["del", 1],
      ["add", 3, { x: 1, y: 2 }],
    ]);
    ws.push(delta({ epoch: 2, tick: 2, updated: ents({ 3: { 0: 3 } }) }));
    expect(match.state.get(3)).toEqual({ x: 3, y: 2 });
  });

  it("reports players, messages, game and server events, and private fields", async () => {
    const { ws, match } = await joinedMatch();
    const got: unknown[][] = [];
    match.on("playerJoined", (pid, m) => got.push(["join", pid, m.name]));
    match.on("playerLeft", (pid, r) => got.push(["leave", pid, r]));
    match.on("playerRejoined", (pid) => got.push(["rejoin", pid]));
    match.on("message", (from, p, direct) => got.push(["msg", from, p, direct]));
    match.on("gameEvent", (name, p) => got.push(["game", name, p]));
    match.on("serverEvent", (p) => got.push(["server", p]));
    ws.push(
      delta({
        tick: 11,
        events: [
          [EventKind.JOIN, 3, ["u3", "cy"]],
          [EventKind.LEAVE, 1, LeaveReason.DROPPED],
          [EventKind.MESSAGE, 3, { text: "hi all" }],
          [EventKind.GAME, 0, ["goal", { team: 1 }]],
          [EventKind.SERVER, 0, { motd: "hello" }],
        ],
        direct: [[EventKind.MESSAGE, 3, { text: "psst" }]],
        private: ents({ 2: { 2: 42 } }),
      }),
    );
    expect(match.members.get(1)?.connected).toBe(false);
    expect(match.members.get(3)).toEqual({ user: "u3", name: "cy", connected: true });
    ws.push(delta({ tick: 12, events: [[EventKind.REJOIN, 1, null], [EventKind.LEAVE, 3, LeaveReason.LEFT]] }));
    expect(match.members.get(1)?.connected).toBe(true);
    expect(match.members.has(3)).toBe(false);
    expect(got).toEqual([
      ["join", 3, "cy"],
      ["leave", 1, 2],
      ["msg", 3, { text: "hi all" }, false],
      ["game", "goal", { team: 1 }],
      ["server", { motd: "hello" }],
      ["msg", 3, { text: "psst" }, true],
      ["rejoin", 1],
      ["leave", 3, 1],
    ]);
    expect(match.state.get(2)).toEqual({ x: 500, y: 500, 2: 42 });
  });

  it("sends messages to everyone or to some, with echo", async () => {
    const { ws, match } = await joinedMatch();
    expect(match.sendMessage({ text: "hi" })).toBe(true);
    expect(match.sendMessage({ text: "psst" }, { to: [1], echo: true })).toBe(true);
    expect(ws.messages().filter((m) => m[0] === Op.MESSAGE)).toEqual([
      [Op.MESSAGE, null, false, { text: "hi" }],
      [Op.MESSAGE, [1], true, { text: "psst" }],
    ]);
  });

  it("leaves with LEAVE/LEFT, and frees the connection for another match", async () => {
    const { ws, match } = await joinedMatch();
    const left: unknown[] = [];
    match.on("left", (i) => left.push(i));
    const p = match.leave();
    await settle();
    const l = ws.last(Op.LEAVE)!;
    ws.push([Op.LEFT, l[1] as number]);
    await p;
    expect(match.status).toBe(MatchStatus.LEFT);
    expect(left).toEqual([{ reason: LeaveReason.LEFT }]);
    expect(conn.slot).toBeNull();
    expect(match.sendInput([1, 0])).toBe(0);
  });

  it("reports END and frees the connection", async () => {
    const { ws, match } = await joinedMatch();
    const ends: unknown[] = [];
    match.on("end", (reason, result) => ends.push([reason, result]));
    ws.push([Op.END, 1, 10, 1, { winner: 1 }]);
    expect(ends).toEqual([[1, { winner: 1 }]]);
    expect(match.status).toBe(MatchStatus.ENDED);
    expect(conn.slot).toBeNull();
  });

  it("leaves when kicked (a LEAVE event about yourself)", async () => {
    const { ws, match } = await joinedMatch();
    const left: unknown[] = [];
    match.on("left", (i) => left.push(i));
    ws.push(delta({ tick: 11, events: [[EventKind.LEAVE, 2, LeaveReason.KICKED]] }));
    expect(left).toEqual([{ reason: LeaveReason.KICKED }]);
    expect(match.status).toBe(MatchStatus.LEFT);
  });

  it("reports ERRORs about inputs", async () => {
    const { ws, match } = await joinedMatch();
    const errs: TickrelayError[] = [];
    match.on("error", (e) => errs.push(e));
    match.sendInput([1, 0]);
    ws.push([Op.ERROR, ErrorCode.RATE_LIMITED, "slow down", Op.INPUT, 1]);
    expect(errs[0]).toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { refOp: Op.INPUT, refId: 1 } });
  });
});

describe("reconnect and resume", () => {
  it("resumes the session transparently: RESUME with the last epoch/tick, then CATCHUP + DELTAs", async () => {
    const { ws, match } = await joinedMatch();
    ws.push(delta({ tick: 11, updated: ents({ 2: { 0: 505 } }) }));
    match.sendInput([1, 0]);
    const resumed: unknown[] = [];
    conn.on("resumed", (s) => resumed.push(s.id));
    ws.drop(CloseCode.SHUTDOWN, "restart");
    expect(conn.state).toBe(ConnectionState.RECONNECTING);
    expect(match.status).toBe(MatchStatus.JOINED);
    expect(match.sendInput([1, 0])).toBe(0); // not queued while away
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    expect(ws2).not.toBe(ws);
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    expect(resume).toEqual([Op.RESUME, resume[1], "s-1", "r-1", 1, 11]);
    expect(conn.state).toBe(ConnectionState.RECONNECTING); // not before RESUMED
    ws2.push([Op.RESUMED, resume[1] as number, "s-1", "r-2"]);
    expect(conn.state).toBe(ConnectionState.CONNECTED);
    expect(conn.session).toMatchObject({ id: "s-1", resumeToken: "r-2" });
    expect(resumed).toEqual(["s-1"]);
    ws2.push([Op.CATCHUP, resume[1] as number, 1, 11]);
    ws2.push(delta({ tick: 12, updated: ents({ 2: { 0: 510 } }), ack: 1 }));
    ws2.push(delta({ tick: 14, since: 2, updated: ents({ 1: { 1: 30 } }) }));
    expect(match.state.get(2)).toEqual({ x: 510, y: 500 });
    expect(match.state.get(1)).toEqual({ x: 10, y: 30 });
    expect(ws2.messages().some((m) => m[0] === Op.SYNC)).toBe(false);
    expect(match.sendInput([1, 0])).toBe(2); // seq goes on
    expect(states.map((s) => s.state)).toEqual(["connecting", "connected", "reconnecting", "connected"]);
    // The next drop resumes with the newest token.
    ws2.drop(CloseCode.GOING_AWAY);
    await vi.advanceTimersByTimeAsync(1000);
    net.last.accept("s-3", "r-y");
    expect(net.last.last(Op.RESUME)!.slice(2)).toEqual(["s-1", "r-2", 1, 14]);
  });

  it("a RESUME whose seat expired ends in left(TIMEOUT), and the connection can join again", async () => {
    const { ws, match } = await joinedMatch();
    const left: unknown[] = [];
    match.on("left", (i) => left.push(i.reason));
    match.on("error", () => {});
    ws.drop(CloseCode.SHUTDOWN);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    const req = ws2.last(Op.RESUME)![1] as number;
    ws2.push([Op.RESUMED, req, "s-1", "r-2"]);
    // The server's answer to the RESUME after RESUMED: the seat is gone.
    ws2.push([Op.ERROR, ErrorCode.NOT_IN_MATCH, "your seat is gone", Op.RESUME, req]);
    expect(match.status).toBe(MatchStatus.LEFT);
    expect(left).toEqual([LeaveReason.TIMEOUT]);
    expect(conn.slot).toBeNull();
  });

  it("asks again with a SYNC when nothing answers a RESUME in time", async () => {
    const { ws, match } = await joinedMatch();
    ws.drop(CloseCode.SHUTDOWN);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    const req = ws2.last(Op.RESUME)![1] as number;
    ws2.push([Op.RESUMED, req, "s-1", "r-2"]);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(ws2.last(Op.SYNC)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(ws2.last(Op.SYNC)!.slice(2)).toEqual([1, 10]);
    expect(match.status).toBe(MatchStatus.JOINED);
  });

  it("a NOTICE REPLACED (another connection of yours took the seat) ends in left(REPLACED)", async () => {
    const { ws, match } = await joinedMatch();
    const left: unknown[] = [];
    match.on("left", (i) => left.push(i.reason));
    ws.push([Op.EVENT, EventKind.NOTICE, 0, [CloseCode.REPLACED, "taken by another connection"]]);
    expect(left).toEqual([LeaveReason.REPLACED]);
    expect(conn.slot).toBeNull();
  });

  it("takes a JOINED after RESUMED as the new state", async () => {
    const { ws, match } = await joinedMatch();
    ws.drop(CloseCode.SLOW);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    ws2.push([Op.RESUMED, resume[1] as number, "s-1", "r-2"]);
    ws2.push(delta({ tick: 40, since: 1 })); // before the snapshot: no SYNC while resuming
    expect(ws2.messages().some((m) => m[0] === Op.SYNC)).toBe(false);
    ws2.push(joined({ req: resume[1] as number, tick: 40, state: ents({ 2: { 0: 1, 1: 1 } }) }));
    expect(match.tick).toBe(40);
    expect([...match.state.entities.keys()]).toEqual([2]);
    ws2.push(delta({ tick: 41 }));
    expect(match.tick).toBe(41);
  });

  it("goes on with a new session when the old one cannot be resumed, and takes the seat back by id", async () => {
    const { ws, match } = await joinedMatch();
    const left: unknown[] = [];
    const resumed: unknown[] = [];
    match.on("left", (i) => left.push(i));
    match.on("resumed", (i) => resumed.push(i));
    match.on("error", () => {});
    const failed: TickrelayError[] = [];
    conn.on("resumeFailed", (e) => failed.push(e));
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    ws2.push([Op.ERROR, ErrorCode.RESUME_FAILED, "expired", Op.RESUME, resume[1] as number]);
    expect(conn.state).toBe(ConnectionState.CONNECTED);
    expect(conn.session?.id).toBe("s-2");
    expect(failed[0]?.code).toBe(ErrorCode.RESUME_FAILED);
    await settle();
    const join = ws2.last(Op.JOIN)!;
    expect(join).toEqual([Op.JOIN, join[1], "m1", null, null]);
    expect(match.status).toBe(MatchStatus.JOINED);
    ws2.push(joined({ req: join[1] as number, epoch: 2, tick: 30, ack: 0, state: ents({ 2: { 0: 7, 1: 7 } }) }));
    expect(match.epoch).toBe(2);
    expect(match.tick).toBe(30);
    expect(conn.slot).toBe(match);
    expect(left).toEqual([]);
    expect(resumed).toMatchObject([{ how: "rejoin", epoch: 2, tick: 30, pid: 2 }]);
  });

  it("loses the match when the JOIN that takes the seat back is refused", async () => {
    const { ws, match } = await joinedMatch();
    const left: unknown[] = [];
    match.on("left", (i) => left.push(i));
    match.on("error", () => {});
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    ws2.push([Op.ERROR, ErrorCode.RESUME_FAILED, "expired", Op.RESUME, resume[1] as number]);
    await settle();
    const join = ws2.last(Op.JOIN)!;
    ws2.push([Op.ERROR, ErrorCode.MATCH_FULL, "full", Op.JOIN, join[1] as number]);
    expect(match.status).toBe(MatchStatus.LEFT);
    expect(left).toMatchObject([{ reason: 0 }]);
    expect(conn.slot).toBeNull();
  });

  it("a terminal close ends the match with the session", async () => {
    const { ws, match } = await joinedMatch();
    const left: unknown[] = [];
    match.on("left", (i) => left.push(i));
    match.on("error", () => {});
    ws.drop(CloseCode.REPLACED);
    expect(conn.state).toBe(ConnectionState.CLOSED);
    expect(match.status).toBe(MatchStatus.LEFT);
    expect(left).toMatchObject([{ reason: 0, error: { details: { closeCode: 4104 } } }]);
  });

  it("drops a connection that goes quiet, and one that never says WELCOME", async () => {
    conn = new Connection({
      url: "ws://server/ws",
      WebSocket: net.WebSocket,
      backoff: { baseMs: 100, random: () => 0 },
      pingIntervalMs: 1000,
      idleTimeoutMs: 3000,
      welcomeTimeoutMs: 2000,
    });
    const p = conn.connect();
    await settle();
    net.last.readyState = 1;
    await vi.advanceTimersByTimeAsync(2000);
    expect(net.last.closedWith?.code).toBe(CloseCode.TIMEOUT);
    await vi.advanceTimersByTimeAsync(10);
    expect(net.sockets.length).toBe(2);
    net.last.accept();
    await p;
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.last.messages().filter((m) => m[0] === Op.PING).length).toBe(1);
    await vi.advanceTimersByTimeAsync(3000); // no PONG, nothing at all
    expect(net.last.closedWith?.code).toBe(CloseCode.TIMEOUT);
    expect(conn.state).toBe(ConnectionState.RECONNECTING);
  });
});
