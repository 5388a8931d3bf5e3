import { describe, expect, it } from "vitest";
import { PendingInputs } from "../src/index.js";

type Pos = { x: number; y: number };
const step = (p: Pos, [dx, dy]: [number, number]): Pos => ({ x: p.x + 5 * dx, y: p.y + 5 * dy });

describe("PendingInputs", () => {
  it("keeps unacked inputs and replays them on the authoritative state", () => {
    const p = new PendingInputs<[number, number]>();
    p.push(1, [1, 0]);
    p.push(2, [1, 0]);
    p.push(3, [0, 1]);
    expect(p.replay({ x: 0, y: 0 }, step)).toEqual({ x: 10, y: 5 });
    // The server applied 1 and 2: its state already has them.
    p.ack(2);
    expect(p.pending.map((i) => i.seq)).toEqual([3]);
    expect(p.lastAck).toBe(2);
    expect(p.replay({ x: 10, y: 0 }, step)).toEqual({ x: 10, y: 5 });
    p.ack(3);
    expect(p.pending).toEqual([]);
    expect(p.replay({ x: 10, y: 5 }, step)).toEqual({ x: 10, y: 5 });
  });

  it("ignores old acks, unsent inputs and inputs already acked", () => {
    const p = new PendingInputs<number>();
    p.push(0, 1); // not sent
    p.push(5, 1);
    p.ack(5);
    p.ack(3);
    expect(p.lastAck).toBe(5);
    p.push(4, 1);
    expect(p.pending).toEqual([]);
  });

  it("acks can skip seqs (an ack covers every input up to it)", () => {
    const p = new PendingInputs<number>();
    for (let s = 1; s <= 10; s++) p.push(s, s);
    p.ack(7);
    expect(p.pending.map((i) => i.seq)).toEqual([8, 9, 10]);
  });

  it("is bounded when acks stop", () => {
    const p = new PendingInputs<number>(4);
    for (let s = 1; s <= 10; s++) p.push(s, s);
    expect(p.pending.map((i) => i.seq)).toEqual([7, 8, 9, 10]);
    p.clear();
    expect(p.pending).toEqual([]);
    expect(p.lastAck).toBe(0);
  });
});
