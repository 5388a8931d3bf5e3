// Matchmaking through the SDK against the real server: ten players press "Play" in the duel
// queue, are matched in pairs (pushed events, no polling), join with their reservations and play
// the five tricks to the end. Parties, expiry and cancel through the same API.
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, ErrorCode, type Match, type MatchmakeProgress, TickrelayError } from "../../src/index.js";
import { playToEnd, type Seat } from "./duel.js";
import { useServer } from "./server.js";
import { until } from "./util.js";

const server = useServer();

function client(): Client {
  return new Client({ url: server().url, connection: { WebSocket } });
}

describe("matchmaking through the SDK", () => {
  it("ten players matchmake into five duels and play them to the end", async () => {
    const cs = Array.from({ length: 10 }, client);
    await Promise.all(cs.map((c, i) => c.authGuest(`p${i}`)));
    const progress: MatchmakeProgress[][] = cs.map(() => []);
    const started = Date.now();
    const matches = await Promise.all(
      cs.map((c, i) =>
        c.matchmake({
          queue: "duel",
          properties: { skill: 1500 + (i % 2) * 20 + i, region: "eu" },
          onProgress: (p) => progress[i]!.push(p),
        }),
      ),
    );
    try {
      expect(Date.now() - started).toBeLessThan(5_000);
      const byMatch = new Map<string, Match[]>();
      for (const m of matches) byMatch.set(m.id, [...(byMatch.get(m.id) ?? []), m]);
      expect(byMatch.size).toBe(5);
      for (const pair of byMatch.values()) {
        expect(pair.length).toBe(2);
        expect(pair[0]!.game).toBe("duel");
      }
      for (const p of progress) {
        expect(p[0]!.status).toBe("opening");
        expect(p.at(-1)!.status).toBe("matched");
        expect(p.some((x) => x.ticket?.window?.skill === 100)).toBe(true);
      }
      const results = await Promise.all(matches.map(playToEnd));
      for (const m of matches) {
        const me = m.state.get(m.pid) as Seat;
        expect(me.hand ?? []).toEqual([]);
      }
      const tricks = [...byMatch.values()].map((pair) => pair.map((m) => (m.state.get(m.pid) as Seat).tricks));
      for (const t of tricks) expect(t[0]! + t[1]!).toBe(5);
      expect(results.every((r) => r !== undefined)).toBe(true);
    } finally {
      for (const m of matches) m.connection.close();
    }
  });

  it("a party is matched whole; its members follow the leader's ticket", async () => {
    const [lead, mate] = [client(), client()];
    await Promise.all([lead.authGuest("lead"), mate.authGuest("mate")]);
    const party = await lead.createParty();
    expect(party.code).toMatch(/^[A-Z2-9]{8}$/);
    const joined = await mate.joinParty(party.code);
    expect(joined.members.map((m) => m.name)).toEqual(["lead", "mate"]);
    // The arena queue starts a match of at least 2 after 5 s, or at once when 10 are there:
    // the party of 2 and 8 solos fill one.
    const conn = mate.connection();
    await conn.connect(); // the member's session is up before the leader queues: it gets the events
    const following = mate.followParty(party.id, { connection: conn });
    const solos = Array.from({ length: 8 }, client);
    await Promise.all(solos.map((c, i) => c.authGuest(`s${i}`)));
    const all = await Promise.all([lead.matchmake({ queue: "arena" }), following, ...solos.map((c) => c.matchmake({ queue: "arena" }))]);
    try {
      expect(new Set(all.map((m) => m.id)).size).toBe(1);
      await until(() => all[0]!.members.size === 10, "ten members in the arena");
    } finally {
      for (const m of all) m.connection.close();
    }
    // The ticket ended: the party may queue again, and its member may leave.
    await mate.request("POST", `/v1/parties/${party.id}/leave`, {}, true);
  });

  it("an aborted matchmake cancels its ticket; a second ticket is refused meanwhile", async () => {
    const c = client();
    await c.authGuest("solo");
    const ac = new AbortController();
    let ticketId = "";
    const p = c.matchmake({
      queue: "duel",
      properties: { skill: 90_000 },
      signal: ac.signal,
      onProgress: (x) => {
        if (x.ticket) ticketId = x.ticket.id;
      },
    });
    await until(() => ticketId !== "", "the ticket");
    const dup = await c.request("POST", "/v1/matchmaking/tickets", { queue: "duel" }, true).catch((e: TickrelayError) => e);
    expect((dup as TickrelayError).code).toBe(ErrorCode.CONFLICT);
    ac.abort(new Error("player left the queue"));
    await expect(p).rejects.toThrow("player left the queue");
    const t = await c.request<{ status: string }>("GET", `/v1/matchmaking/tickets/${ticketId}?wait=2s&status=searching`, undefined, true);
    expect(t.status).toBe("cancelled");
  });
});
