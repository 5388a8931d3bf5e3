import { describe, expect, it } from "vitest";
import { Backoff, fullJitter } from "../src/index.js";

describe("full-jitter backoff", () => {
  it("stays within [0, min(max, base * 2^attempt))", () => {
    const opts = { baseMs: 100, maxMs: 5000 };
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(5000, 100 * 2 ** attempt);
      expect(fullJitter(attempt, { ...opts, random: () => 0 })).toBe(0);
      const top = fullJitter(attempt, { ...opts, random: () => 0.999999 });
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(Math.floor(ceiling * 0.999));
    }
  });

  it("doubles the window up to the cap, and survives huge attempts", () => {
    const hi = (a: number) => fullJitter(a, { baseMs: 500, maxMs: 30_000, random: () => 0.5 });
    expect(hi(0)).toBe(250);
    expect(hi(1)).toBe(500);
    expect(hi(2)).toBe(1000);
    expect(hi(10)).toBe(15_000);
    expect(hi(1e9)).toBe(15_000);
    expect(Number.isFinite(hi(1e9))).toBe(true);
  });

  it("is full jitter: delays spread over the whole window", () => {
    const samples = Array.from({ length: 2000 }, () => fullJitter(6, { baseMs: 100, maxMs: 100_000 }));
    const ceiling = 6400;
    expect(Math.min(...samples)).toBeLessThan(ceiling * 0.05);
    expect(Math.max(...samples)).toBeGreaterThan(ceiling * 0.95);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(ceiling * 0.4);
    expect(mean).toBeLessThan(ceiling * 0.6);
  });

  it("Backoff counts attempts and resets", () => {
    const b = new Backoff({ baseMs: 10, maxMs: 1000, random: () => 0.5 });
    expect([b.next(), b.next(), b.next()]).toEqual([5, 10, 20]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(5);
  });
});
