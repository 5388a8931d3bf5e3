// Seats on the real server: a second connection of the same user takes the seat over (the
// first is told REPLACED, the second continues the seat's input seq from JOINED's ack), and a
// duel player who leaves before the deal is unseated (the next two are dealt against each other).
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, LeaveReason, MatchStatus } from "../../src/index.js";
import { useServer } from "./server.js";
import { nextEvent, until } from "./util.js";

const server = useServer();

describe("seats against the real server", () => {
  it("a second connection takes the seat: the first gets left(REPLACED), the second goes on from the ack", async () => {
    const a = new Client({ url: server().url, connection: { WebSocket } });
    await a.authGuest("ann");
    const { match: info } = await a.createMatch({ game: "arena" });
    const first = await a.join(info.id);
    const b = new Client({ url: server().url, token: a.token, connection: { WebSocket } });
    let second: Awaited<ReturnType<Client["join"]>> | undefined;
    try {
      for (let i = 1; i <= 3; i++) {
        const acked = nextEvent(first, "ack", `ack ${i}`, (s) => s >= i);
        expect(first.sendInput([1, 0])).toBe(i);
        await acked;
      }
      const replaced = nextEvent(first, "left", "the first connection's left");
      second = await b.join(info.id);
      const [left] = await replaced;
      expect(left.reason).toBe(LeaveReason.REPLACED);
      expect(first.status).toBe(MatchStatus.LEFT);
      expect(second.pid).toBe(first.pid);
      expect(second.lastAck).toBe(3);
      const acked = nextEvent(second, "ack", "the second connection's first ack", (s) => s >= 4);
      expect(second.sendInput([0, 1])).toBe(4); // seq 1 would be ignored as a duplicate
      await acked;
    } finally {
      first.connection.close();
      second?.connection.close();
    }
  });

  it("a duel player who leaves before the deal is unseated", async () => {
    const clients = ["ann", "bob", "cy"].map(() => new Client({ url: server().url, connection: { WebSocket } }));
    const [a, b, c] = clients as [Client, Client, Client];
    const matches: { connection: { close(): void } }[] = [];
    try {
      await a.authGuest("ann");
      await b.authGuest("bob");
      await c.authGuest("cy");
      const { match: info } = await a.createMatch({ game: "duel" });
      const ann = await a.join(info.id);
      matches.push(ann);
      await ann.leave();
      const bob = await b.join(info.id);
      matches.push(bob);
      const cy = await c.join(info.id);
      matches.push(cy);
      type Table = { turn: number; phase: string };
      await until(() => (cy.state.get(1000) as Table | undefined)?.phase === "playing", "the deal");
      const table = cy.state.get(1000) as Table;
      expect([bob.pid, cy.pid]).toContain(table.turn);
      expect(cy.state.get(ann.pid)).toBeUndefined();
      expect((cy.state.get(cy.pid) as { hand?: number[] }).hand).toHaveLength(5);
    } finally {
      for (const m of matches) m.connection.close();
    }
  });
});
