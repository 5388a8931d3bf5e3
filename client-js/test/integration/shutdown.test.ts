// A server shutdown (SIGTERM to the binary) and a new server on the same port: the SDK goes
// through `reconnecting` (4000 SHUTDOWN, then failed connects while nothing listens), comes back
// to `connected` on the new process, reports that the old session could not be resumed (the new
// process knows nothing of it, nor of the match), and can join a new match on the same
// Connection. Both processes get the same --secret, so the guest token stays valid.
import { WebSocket } from "ws";
import { afterAll, describe, expect, it } from "vitest";
import {
  Client,
  CloseCode,
  ConnectionState,
  EndReason,
  ErrorCode,
  type LeftInfo,
  Match,
  type StateChange,
  type TickrelayError,
} from "../../src/index.js";
import { type RunningServer, TEST_SECRET, startServer, stopAll } from "./server.js";
import { nextEvent, until } from "./util.js";

afterAll(async () => {
  await stopAll();
});

describe("server restart", () => {
  it("SIGTERM: the SDK reconnects to the new server on the same port and can join again", async () => {
    const first: RunningServer = await startServer({ secret: TEST_SECRET, args: ["--grace", "5s"] });
    const client = new Client({
      url: first.url,
      connection: { WebSocket, backoff: { baseMs: 50, maxMs: 400 }, pingIntervalMs: 1000 },
    });
    await client.authGuest("ann");
    const { match: info } = await client.createMatch({ game: "arena" });
    const match = await client.join(info.id);
    const conn = match.connection;
    const changes: StateChange[] = [];
    conn.on("state", (s) => changes.push(s));
    const ended: [number, unknown][] = [];
    match.on("end", (reason, result) => ended.push([reason, result]));
    const lefts: LeftInfo[] = [];
    match.on("left", (l) => lefts.push(l));
    let second: RunningServer | undefined;
    try {
      await until(() => match.state.get(match.pid) !== undefined, "our dot");
      const oldSession = conn.session!.id;

      // Stop the server: SIGTERM to the PID the helper started, as an orchestrator would.
      const reconnecting = nextEvent(conn, "state", "reconnecting", (s) => s.state === ConnectionState.RECONNECTING);
      process.kill(first.pid, "SIGTERM");
      const [drop] = await reconnecting;
      const code = await first.exited;
      expect(code).toBe(0); // a clean, graceful exit
      // The server ended the match (END, reason STOPPED) and then closed the socket with 4000.
      expect(ended.map(([r]) => r)).toEqual([EndReason.STOPPED]);
      expect(match.status).toBe("ended");
      expect(drop.code).toBe(CloseCode.SHUTDOWN);
      expect(drop.reason).toMatch(/4000 SHUTDOWN/);
      expect(drop.prev).toBe(ConnectionState.CONNECTED);

      // While nothing listens, connects fail (1006) and the SDK keeps trying with backoff.
      await until(() => changes.some((c) => c.state === ConnectionState.RECONNECTING && c.code === 1006), "a failed reconnect");
      expect(conn.state).toBe(ConnectionState.RECONNECTING);

      // A new process on the same port, with the same secret: the connection comes back.
      const resumeFailed = nextEvent(conn, "resumeFailed", "resumeFailed", undefined, 20_000);
      second = await startServer({ port: first.port, secret: TEST_SECRET });
      const [lost] = await resumeFailed;
      expect((lost as TickrelayError).code).toBe(ErrorCode.RESUME_FAILED);
      await until(() => conn.state === ConnectionState.CONNECTED, "connected to the new server", 20_000);
      const back = changes.at(-1)!;
      expect(back.state).toBe(ConnectionState.CONNECTED);
      expect(back.prev).toBe(ConnectionState.RECONNECTING);
      expect(back.reason).toMatch(/^resume failed/);
      expect(conn.session!.id).not.toBe(oldSession);
      // The match had already ended, so there was no seat to lose: no `left`.
      expect(lefts).toEqual([]);
      // connected → reconnecting (4000) → reconnecting (1006)… → connected, nothing else.
      const seq = changes.map((c) => c.state);
      expect(seq[0]).toBe(ConnectionState.RECONNECTING);
      expect(seq.at(-1)).toBe(ConnectionState.CONNECTED);
      expect(seq.slice(1, -1).every((s) => s === ConnectionState.RECONNECTING)).toBe(true);
      expect(changes.slice(1, -1).every((c) => c.code === 1006 || c.code === CloseCode.SHUTDOWN)).toBe(true);

      // The old match is gone with the old process…
      const gone = await client.getMatch(info.id).then(
        () => null,
        (e: TickrelayError) => e,
      );
      expect(gone?.code).toBe(ErrorCode.NOT_FOUND);
      // …and a new one can be joined over the same Connection, with the same token.
      const { match: fresh } = await client.createMatch({ game: "arena" });
      const again = new Match(conn);
      await again.join(fresh.id);
      expect(again.status).toBe("joined");
      expect(again.id).toBe(fresh.id);
      await until(() => again.state.get(again.pid) !== undefined, "our dot in the new match");
      const acked = nextEvent(again, "ack", "ack 1 in the new match", (s) => s === 1);
      expect(again.sendInput([0, 1])).toBe(1);
      await acked;
    } finally {
      conn.close();
      await second?.stop();
    }
  });

  it("a match joined when the server stops is left with RESUME_FAILED if it never got its END", async () => {
    // SIGKILL: no END, no close frame. The SDK sees 1006, reconnects to the new process, and the
    // RESUME fails: the match reports `left` with the error, and the connection carries on.
    const first = await startServer();
    const client = new Client({ url: first.url, connection: { WebSocket, backoff: { baseMs: 50, maxMs: 400 } } });
    await client.authGuest("bob");
    const { match: info } = await client.createMatch({ game: "arena" });
    const match = await client.join(info.id);
    const conn = match.connection;
    let second: RunningServer | undefined;
    try {
      const left = nextEvent(match, "left", "left", undefined, 20_000);
      process.kill(first.pid, "SIGKILL");
      await first.exited;
      await until(() => conn.state === ConnectionState.RECONNECTING, "reconnecting");
      expect(conn.closeCode).toBe(1006);
      second = await startServer({ port: first.port });
      const [info2] = await left;
      expect(info2.reason).toBe(0);
      expect(info2.error?.code).toBe(ErrorCode.RESUME_FAILED);
      expect(match.status).toBe("left");
      await until(() => conn.state === ConnectionState.CONNECTED, "connected to the new server", 20_000);
      const { match: fresh } = await client.createMatch({ game: "relay" });
      const again = await new Match(conn).join(fresh.id);
      expect(again.game).toBe("relay");
    } finally {
      conn.close();
      await second?.stop();
    }
  });
});
