// Messages through a relay match on the real server: a broadcast leaves the sender out unless it
// asks for an echo, and a message to listed pids reaches only them.
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, LeaveReason, type Match } from "../../src/index.js";
import { useServer } from "./server.js";
import { until } from "./util.js";

const server = useServer();

type Got = { from: number; text: string; direct: boolean };

async function member(name: string, id: string | null): Promise<{ m: Match; got: Got[]; c: Client }> {
  const c = new Client({ url: server().url, connection: { WebSocket } });
  await c.authGuest(name);
  const target = id ?? (await c.createMatch({ game: "relay" })).reservation;
  const got: Got[] = [];
  const m = await c.join(target, {
    setup: (m) => m.on("message", (from, p, direct) => got.push({ from, text: (p as { text: string }).text, direct })),
  });
  return { m, got, c };
}

describe("relay messages against the real server", () => {
  it("broadcast without echo skips the sender, echo includes it, `to` reaches only the listed pids", async () => {
    const ann = await member("ann", null);
    const bob = await member("bob", ann.m.id);
    const cy = await member("cy", ann.m.id);
    const all = [ann, bob, cy];
    try {
      expect(ann.m.game).toBe("relay");
      await until(() => all.every((x) => x.m.members.size === 3), "three members everywhere");
      expect([...ann.m.members.values()].map((x) => x.name).sort()).toEqual(["ann", "bob", "cy"]);
      const A = ann.m.pid;

      expect(ann.m.sendMessage({ text: "m1 to all, no echo" })).toBe(true);
      expect(ann.m.sendMessage({ text: "m2 to all, echo" }, { echo: true })).toBe(true);
      expect(ann.m.sendMessage({ text: "m3 to cy" }, { to: [cy.m.pid] })).toBe(true);
      // A marker everyone gets: once it is in, whatever ann sent before it has arrived too.
      expect(ann.m.sendMessage({ text: "m4 marker" }, { echo: true })).toBe(true);
      await until(() => all.every((x) => x.got.some((g) => g.text === "m4 marker")), "the marker everywhere");

      // Messages arrive in the order they were sent, whatever mix of echo and targets (the
      // server puts every MESSAGE in the recipient's own `direct` events, in arrival order).
      const texts = (x: { got: Got[] }) => x.got.map((g) => g.text);
      expect(texts(ann)).toEqual(["m2 to all, echo", "m4 marker"]);
      expect(texts(bob)).toEqual(["m1 to all, no echo", "m2 to all, echo", "m4 marker"]);
      expect(texts(cy)).toEqual(["m1 to all, no echo", "m2 to all, echo", "m3 to cy", "m4 marker"]);
      for (const x of all) for (const g of x.got) expect(g.from).toBe(A);
      for (const x of all) for (const g of x.got) expect(g.direct).toBe(true);

      // And back: cy answers ann alone, with an echo to itself.
      expect(cy.m.sendMessage({ text: "m5 cy to ann" }, { to: [A], echo: true })).toBe(true);
      await until(() => ann.got.length === 3 && cy.got.length === 5, "cy's answer");
      expect(ann.got.at(-1)).toEqual({ from: cy.m.pid, text: "m5 cy to ann", direct: true });
      expect(cy.got.at(-1)!.text).toBe("m5 cy to ann");
      expect(bob.got.length).toBe(3);

      // Leaving is announced to the others.
      const left: [number, number][] = [];
      ann.m.on("playerLeft", (pid, reason) => left.push([pid, reason]));
      await bob.m.leave();
      expect(bob.m.status).toBe("left");
      await until(() => left.length === 1, "bob's leave on ann's side");
      expect(left[0]).toEqual([bob.m.pid, LeaveReason.LEFT]);
      expect(ann.m.members.has(bob.m.pid)).toBe(false);
    } finally {
      for (const x of all) x.m.connection.close();
    }
  });
});
