// The SDK's Node path over real sockets (global fetch + the `ws` package) against the mock
// server in helpers/mock-server.ts. The real server is exercised by test/integration/.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, ConnectionState, Match, PendingInputs } from "../src/index.js";
import { type MockServer, startMockServer } from "./helpers/mock-server.js";

let server: MockServer;
beforeAll(async () => {
  server = await startMockServer();
});
afterAll(async () => {
  await server.close();
});

function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      if (cond()) return resolve();
      if (Date.now() - t0 > timeoutMs) return reject(new Error("timed out waiting"));
      setTimeout(poll, 10);
    };
    poll();
  });
}

const client = () => new Client({ url: server.url, connection: { WebSocket, backoff: { baseMs: 20, maxMs: 100 } } });

describe("over ws against the mock server", () => {
  it("creates a match, joins with the reservation, moves, gets acks, pings", async () => {
    const c = client();
    const auth = await c.authGuest("ann");
    expect(auth.token).toBeTruthy();
    const { match: info, reservation } = await c.createMatch({ game: "arena" });
    expect((await c.listMatches({ game: "arena" })).map((m) => m.id)).toContain(info.id);
    const match = await c.join(reservation);
    try {
      expect(match.status).toBe("joined");
      // Our dot arrives in the first DELTA after JOINED (the snapshot is the last emitted state).
      await until(() => match.state.get(match.pid) !== undefined);
      expect(match.state.get(match.pid)).toEqual({ x: 500, y: 500 });
      const pending = new PendingInputs<[number, number]>();
      match.on("ack", (s) => pending.ack(s));
      for (let i = 0; i < 3; i++) pending.push(match.sendInput([1, 0]), [1, 0]);
      await until(() => match.lastAck === 3);
      expect(pending.pending).toEqual([]);
      expect(match.state.get(match.pid)).toEqual({ x: 515, y: 500 });
      const r = await match.ping();
      expect(r.rtt).toBeGreaterThanOrEqual(0);
      expect(Math.abs(r.offset)).toBeLessThan(1000);
    } finally {
      match.connection.close();
    }
  });

  it("reconnects after a 4000 close and resumes the seat transparently", async () => {
    const c = client();
    await c.authGuest("bob");
    const { match: info } = await c.createMatch({ game: "arena" });
    const match = await c.join(info.id);
    const conn = match.connection;
    const states: string[] = [];
    conn.on("state", (s) => states.push(s.state));
    try {
      const sid = conn.session!.id;
      server.kick(4000);
      await until(() => states.includes("reconnecting"));
      await until(() => conn.state === ConnectionState.CONNECTED);
      expect(conn.session!.id).toBe(sid);
      expect(match.status).toBe("joined");
      const seq = match.sendInput([0, 1]);
      expect(seq).toBe(1);
      await until(() => match.lastAck === 1);
      expect(match.state.get(match.pid)).toEqual({ x: 500, y: 505 });
    } finally {
      conn.close();
    }
  });

  it("relays chat messages between two members", async () => {
    const a = client();
    const b = client();
    await a.authGuest("ann");
    await b.authGuest("bob");
    const { match: room } = await a.createMatch({ game: "relay" });
    const ma = await a.join(room.id);
    const got: unknown[] = [];
    const mb = await b.join(room.id, { setup: (m: Match) => m.on("message", (from, p) => got.push([from, p])) });
    try {
      await until(() => ma.members.size === 2);
      expect(ma.sendMessage({ text: "hi bob" })).toBe(true);
      await until(() => got.length === 1);
      expect(got).toEqual([[ma.pid, { text: "hi bob" }]]);
    } finally {
      ma.connection.close();
      mb.connection.close();
    }
  });

  const root = fileURLToPath(new URL("..", import.meta.url));
  // `npm test` runs after `npm run build` (make test-js), so dist/ is there: a missing build fails, never skips.
  it("examples/bots.mjs runs, reports and stops by itself", async () => {
    expect(existsSync(root + "dist/index.js"), "run `npm run build` first").toBe(true);
    // Asynchronously: the mock server lives in this process and must keep serving.
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["examples/bots.mjs", "--url", server.url, "--bots", "3", "--seconds", "1.5"],
        { cwd: root, encoding: "utf8", timeout: 20_000 },
        (err, stdout, stderr) => resolve({ status: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/3\/3 bot\(s\) in the match/);
    expect(r.stdout).toMatch(/ack latency\s+n=\d+/);
    expect(r.stdout).toMatch(/rtt\s+n=\d+/);
  }, 30_000); // a node process start plus 1.5 s of bots: 5 s (the default) is too tight on a loaded 2-core box
});
