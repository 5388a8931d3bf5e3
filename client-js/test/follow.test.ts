// Following a match to another instance (failover): full-jitter spread of a crowd's reconnects,
// the URL of a close 4003 MOVED (validated), the configured `urls`, END MOVED, and the JOIN by id
// that takes the seat back when RESUME fails or finds the session in no match.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CloseCode, Connection, EndReason, ErrorCode, Match, MatchStatus, Op, fullJitter } from "../src/index.js";
import { checkWsUrl, movedUrl, pickUrl } from "../src/urls.js";
import { FakeNet, type FakeSocket, delta, ents, joined } from "./helpers/fake-ws.js";

/** The largest share of `times` (ms) inside any window of `w` ms. */
function densest(times: number[], w: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= w) j++;
    best = Math.max(best, i - j + 1);
  }
  return best / t.length;
}

describe("full-jitter spread of a crowd", () => {
  it("1,000 clients that lost the same instance spread their first reconnect over the window", () => {
    for (const baseMs of [1000, 2000]) {
      const first = Array.from({ length: 1000 }, () => fullJitter(0, { baseMs, maxMs: 30_000 }));
      const span = Math.max(...first) - Math.min(...first);
      expect(span).toBeGreaterThan(baseMs * 0.95);
      // Uniform over base: a 100 ms window holds 100/base of them (10% or 5%), never > 15%.
      expect(densest(first, 100)).toBeLessThanOrEqual(0.15);
    }
  });

  it("the SDK's default first window is 1 s (a crowd is never within 100 ms of each other)", () => {
    const first = Array.from({ length: 1000 }, () => fullJitter(0));
    expect(Math.max(...first)).toBeLessThan(1000);
    expect(Math.max(...first)).toBeGreaterThan(900);
    expect(densest(first, 100)).toBeLessThanOrEqual(0.15);
  });

  it("the whole reconnect sequence of a crowd (attempt after attempt) stays spread", () => {
    // Each client retries three times (instances refusing) before it gets in: the arrival times
    // of every attempt of every client.
    const times: number[] = [];
    for (let c = 0; c < 1000; c++) {
      let t = 0;
      for (let a = 0; a < 4; a++) {
        t += fullJitter(a, { baseMs: 1000, maxMs: 8000 });
        times.push(t);
      }
    }
    expect(densest(times, 100)).toBeLessThanOrEqual(0.15);
  });
});

describe("URLs", () => {
  const ws = "ws://a:1/ws";
  it("takes a moved-to base URL and keeps the configured path", () => {
    expect(movedUrl("http://10.0.0.7:8082", ws)).toBe("ws://10.0.0.7:8082/ws");
    expect(movedUrl("http://10.0.0.7:8082/", ws)).toBe("ws://10.0.0.7:8082/ws");
    expect(movedUrl("https://eu.example.com", "wss://a/ws?x=1")).toBe("wss://eu.example.com/ws?x=1");
    expect(movedUrl("https://example.com/game/", ws)).toBe("wss://example.com/game/ws");
    expect(movedUrl("ws://b:2", ws)).toBe("ws://b:2/ws");
    expect(movedUrl(" wss://b:2 ", ws)).toBe("wss://b:2/ws");
  });

  it("refuses anything that is not an absolute http(s)/ws(s) URL without credentials", () => {
    for (const bad of [
      "",
      "   ",
      "/ws",
      "b:2",
      "javascript:alert(1)",
      "data:text/html,x",
      "file:///etc/passwd",
      "ftp://b/",
      "http://user:pass@b:2",
      "http://user@b:2",
      "http://",
      "http://" + "a".repeat(3000) + ".com",
      "moved",
    ]) {
      expect(movedUrl(bad, ws), bad).toBeNull();
    }
  });

  it("checks configured URLs and picks another instance than the one lost", () => {
    expect(checkWsUrl("wss://x/ws")).toBe("wss://x/ws");
    expect(() => checkWsUrl("http://x/ws")).toThrow();
    expect(() => checkWsUrl("x/ws")).toThrow();
    const urls = ["ws://a/ws", "ws://b/ws", "ws://c/ws"];
    for (let i = 0; i < 50; i++) expect(pickUrl(urls, "ws://a/ws")).not.toBe("ws://a/ws");
    expect(new Set(Array.from({ length: 200 }, () => pickUrl(urls, "ws://a/ws")))).toEqual(new Set(["ws://b/ws", "ws://c/ws"]));
    expect(pickUrl(["ws://a/ws"], "ws://a/ws")).toBe("ws://a/ws");
    expect(pickUrl(urls, "ws://a/ws", () => 0.999999)).toBe("ws://c/ws");
    // Every failed one avoided while another is left; all failed: anything but the last lost.
    for (let i = 0; i < 50; i++) expect(pickUrl(urls, ["ws://b/ws", "ws://a/ws"])).toBe("ws://c/ws");
    for (let i = 0; i < 50; i++) expect(pickUrl(urls, ["ws://c/ws", "ws://a/ws", "ws://b/ws"])).not.toBe("ws://c/ws");
  });

  it("a Connection refuses a bad entry in urls", () => {
    expect(() => new Connection({ url: "ws://a/ws", urls: ["http://b/ws"] })).toThrow(/urls/);
  });
});

describe("following a match", () => {
  const settle = () => vi.advanceTimersByTimeAsync(0);
  let net: FakeNet;
  let conn: Connection;

  beforeEach(() => {
    vi.useFakeTimers();
    net = new FakeNet();
    conn = new Connection({
      url: "ws://a:1/ws",
      urls: ["ws://b:2/ws", "ws://c:3/ws"],
      token: "t",
      WebSocket: net.WebSocket,
      backoff: { baseMs: 100, maxMs: 1000, random: () => 0.5 },
      pingIntervalMs: 0,
      idleTimeoutMs: 0,
    });
  });
  afterEach(() => {
    conn.close();
    vi.useRealTimers();
  });

  async function joinedMatch(): Promise<{ ws: FakeSocket; match: Match; events: unknown[][] }> {
    const p = conn.connect();
    await settle();
    const ws = net.last;
    ws.accept();
    await p;
    const match = new Match(conn);
    const events: unknown[][] = [];
    for (const e of ["moved", "reconnecting", "resumed", "end", "left", "snapshot"] as const) {
      match.on(e, (...a: unknown[]) => events.push([e, ...a]));
    }
    match.on("error", () => {});
    const jp = match.join("m1");
    await settle();
    ws.push(joined({ req: ws.last(Op.JOIN)![1] as number, tick: 10, state: ents({ 2: { 0: 1, 1: 1 } }) }));
    await jp;
    return { ws, match, events };
  }

  const base = (s: FakeSocket) => s.url.split("?")[0];

  it("on 4003 MOVED reconnects to the URL in the reason and resumes there", async () => {
    const { ws, match, events } = await joinedMatch();
    ws.drop(CloseCode.MOVED, "http://10.0.0.9:8082");
    expect(events[0]).toEqual(["moved", { url: "ws://10.0.0.9:8082/ws", via: "close" }]);
    expect(events[1]?.[0]).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    expect(base(ws2)).toBe("ws://10.0.0.9:8082/ws");
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    expect(resume.slice(2)).toEqual(["s-1", "r-1", 1, 10]);
    ws2.push([Op.RESUMED, resume[1] as number, "s-1", "r-2"]);
    ws2.push([Op.CATCHUP, resume[1] as number, 1, 10]);
    ws2.push(delta({ tick: 11 }));
    expect(match.tick).toBe(11);
    expect(events.at(-1)).toEqual(["resumed", { how: "catchup", epoch: 1, tick: 10, pid: 2 }]);
  });

  it("does not retry an instance that failed while another configured one is left", async () => {
    const { ws } = await joinedMatch(); // on a
    ws.drop(1006);
    const tried = [base(ws)];
    for (let i = 0; i < 2; i++) {
      await vi.advanceTimersByTimeAsync(5000);
      tried.push(base(net.last));
      if (i === 0) net.last.drop(1006); // the second instance is down too
    }
    expect(new Set(tried)).toEqual(new Set(["ws://a:1/ws", "ws://b:2/ws", "ws://c:3/ws"]));
  });

  it("on 4003 with an unusable reason, and on 1006, goes to another configured instance", async () => {
    const { ws } = await joinedMatch();
    ws.drop(CloseCode.MOVED, "javascript:alert(1)");
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    expect(["ws://b:2/ws", "ws://c:3/ws"]).toContain(base(ws2));
    ws2.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    expect(base(net.last)).not.toBe(base(ws2));
    expect(net.sockets.length).toBe(3);
  });

  it("on END MOVED leaves the stale instance, resumes elsewhere and takes the seat back by id", async () => {
    const { ws, match, events } = await joinedMatch();
    ws.push([Op.END, 1, 10, EndReason.MOVED, null]);
    expect(match.status).toBe(MatchStatus.JOINED);
    expect(events.map((e) => e[0])).toEqual(["moved", "reconnecting"]);
    expect(ws.closedWith?.code).toBe(CloseCode.MOVED);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    expect(base(ws2)).not.toBe("ws://a:1/ws");
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    ws2.push([Op.RESUMED, resume[1] as number, "s-1", "r-2"]); // the session had no seat left
    await settle();
    const join = ws2.last(Op.JOIN)!;
    expect(join.slice(2)).toEqual(["m1", null, null]);
    ws2.push(joined({ req: join[1] as number, epoch: 2, tick: 25, ack: 0, state: ents({ 2: { 0: 3, 1: 3 } }) }));
    ws2.push(delta({ epoch: 2, tick: 26 }));
    expect(match.epoch).toBe(2);
    expect(match.tick).toBe(26);
    expect(events.map((e) => e[0])).toEqual(["moved", "reconnecting", "snapshot", "resumed"]);
    expect(events.at(-1)).toEqual(["resumed", { how: "rejoin", epoch: 2, tick: 25, pid: 2 }]);
  });

  it("relayed, its owner died and the restored match had no seat for it: an unasked JOINED of epoch 2 seats it anew", async () => {
    // The connection stays up; the relaying instance JOINs the restored match for the player
    // (the checkpoint predated its join) and the answer is a JOINED with the server's own req.
    const { ws, match, events } = await joinedMatch();
    expect(match.sendInput([1, 0])).toBe(1);
    ws.push(joined({ req: 0x80000005, epoch: 2, tick: 31, pid: 3, ack: 0, members: [[1, "u1", "ann", false], [3, "u2", "bob", true]] }));
    expect(match.status).toBe(MatchStatus.JOINED);
    expect(match.pid).toBe(3);
    expect(match.epoch).toBe(2);
    expect(events.map((e) => e[0])).toEqual(["snapshot"]);
    ws.push(delta({ epoch: 2, tick: 32, ack: 2 }));
    expect(match.tick).toBe(32);
    expect(match.sendInput([0, 1])).toBe(2); // inputs go on after the old seat's (the new seat applies any seq > 0)
  });

  it("relayed, its owner died and the restored match had no seat free: END LOST ends the match", async () => {
    const { ws, match, events } = await joinedMatch();
    ws.push([Op.END, 1, 10, EndReason.LOST, "no seat for you in the match restored elsewhere"]);
    expect(match.status).toBe(MatchStatus.ENDED);
    expect(events).toEqual([["end", EndReason.LOST, "no seat for you in the match restored elsewhere"]]);
    expect(net.sockets.length).toBe(1); // nothing to follow: no reconnect
  });

  it("after a drain's 4003, a RESUMED with nothing after it (the seat was in the stopped copy) takes the seat back by id", async () => {
    const { ws, match, events } = await joinedMatch();
    ws.drop(CloseCode.MOVED, "http://b:2");
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    expect(base(ws2)).toBe("ws://b:2/ws");
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    ws2.push([Op.RESUMED, resume[1] as number, "s-1", "r-2"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws2.last(Op.JOIN)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(600);
    const join = ws2.last(Op.JOIN)!;
    expect(join.slice(2)).toEqual(["m1", null, null]);
    ws2.push(joined({ req: join[1] as number, epoch: 2, tick: 40, ack: 0 }));
    expect(match.status).toBe(MatchStatus.JOINED);
    expect(events.at(-1)).toEqual(["resumed", { how: "rejoin", epoch: 2, tick: 40, pid: 2 }]);
  });

  it("a slow RESUME answer is still taken: the JOIN by id is answered ALREADY_JOINED", async () => {
    const { ws, match, events } = await joinedMatch();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    const resume = ws2.last(Op.RESUME)!;
    ws2.push([Op.RESUMED, resume[1] as number, "s-1", "r-2"]);
    await vi.advanceTimersByTimeAsync(1600);
    const join = ws2.last(Op.JOIN)!;
    ws2.push([Op.ERROR, ErrorCode.ALREADY_JOINED, "already in a match", Op.JOIN, join[1] as number]);
    ws2.push([Op.CATCHUP, resume[1] as number, 1, 10]);
    ws2.push(delta({ tick: 11 }));
    expect(match.status).toBe(MatchStatus.JOINED);
    expect(match.tick).toBe(11);
    expect(events.at(-1)?.[0]).toBe("resumed");
  });

  it("retries the JOIN by id while the match is between owners (UNAVAILABLE, TIMEOUT)", async () => {
    const { ws, match, events } = await joinedMatch();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    ws2.push([Op.ERROR, ErrorCode.RESUME_FAILED, "no instance has it", Op.RESUME, ws2.last(Op.RESUME)![1] as number]);
    await settle();
    const joins = () => ws2.messages().filter((m) => m[0] === Op.JOIN);
    expect(joins().length).toBe(1);
    ws2.push([Op.ERROR, ErrorCode.UNAVAILABLE, "owner gone", Op.JOIN, joins()[0]![1] as number]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(joins().length).toBe(2);
    ws2.push([Op.ERROR, ErrorCode.TIMEOUT, "no answer", Op.JOIN, joins()[1]![1] as number]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(joins().length).toBe(3);
    expect(match.status).toBe(MatchStatus.JOINED);
    ws2.push(joined({ req: joins()[2]![1] as number, epoch: 2, tick: 90, ack: 4 }));
    expect(match.status).toBe(MatchStatus.JOINED);
    expect(match.lastAck).toBe(4);
    expect(events.at(-1)?.[0]).toBe("resumed");
  });

  it("gives up following after followTimeoutMs", async () => {
    const { ws, match, events } = await joinedMatch();
    match.followTimeoutMs = 3000;
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    ws2.push([Op.ERROR, ErrorCode.RESUME_FAILED, "gone", Op.RESUME, ws2.last(Op.RESUME)![1] as number]);
    for (let i = 0; i < 20 && match.status === MatchStatus.JOINED; i++) {
      await settle();
      const join = ws2.last(Op.JOIN)!;
      ws2.push([Op.ERROR, ErrorCode.UNAVAILABLE, "between owners", Op.JOIN, join[1] as number]);
      await vi.advanceTimersByTimeAsync(5000);
    }
    expect(match.status).toBe(MatchStatus.LEFT);
    expect(events.at(-1)).toMatchObject(["left", { reason: 0, error: { code: ErrorCode.RESUME_FAILED } }]);
  });

  it("a JOIN by id answered NOT_FOUND (the match is gone) ends following at once", async () => {
    const { ws, match, events } = await joinedMatch();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    ws2.push([Op.ERROR, ErrorCode.RESUME_FAILED, "gone", Op.RESUME, ws2.last(Op.RESUME)![1] as number]);
    await settle();
    ws2.push([Op.ERROR, ErrorCode.NOT_FOUND, "no such match", Op.JOIN, ws2.last(Op.JOIN)![1] as number]);
    expect(match.status).toBe(MatchStatus.LEFT);
    expect(events.at(-1)).toMatchObject(["left", { reason: 0, error: { code: ErrorCode.RESUME_FAILED } }]);
    expect(conn.slot).toBeNull();
  });

  it("a RESUME answered UNAVAILABLE drops the socket and tries again elsewhere", async () => {
    const { ws } = await joinedMatch();
    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const ws2 = net.last;
    ws2.accept("s-2", "r-x");
    ws2.push([Op.ERROR, ErrorCode.UNAVAILABLE, "draining", Op.RESUME, ws2.last(Op.RESUME)![1] as number]);
    expect(ws2.closedWith).not.toBeNull();
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.sockets.length).toBe(3);
    net.last.accept("s-3", "r-y");
    expect(net.last.last(Op.RESUME)!.slice(2, 4)).toEqual(["s-1", "r-1"]);
  });
});
