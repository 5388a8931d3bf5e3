// A joined connection with nothing to say must stay up across the server's WebSocket pings.
//
// KNOWN SERVER BUG (reported, not fixed in server/ yet): server/writer.go leaves the socket's
// write deadline at "last data write + 2 × --write-timeout" (2 s by default) and never clears
// it; the ping timer in server/transport.go then calls WritePing on that socket, the write
// fails with a timeout and gws drops the TCP connection without a close frame. So a session
// that received nothing for 2 s before a server ping (every --ping, 10 s by default) is dropped:
// the client sees 1006 and resumes. An idle chat room or an arena where nobody moves does this
// every 10 s. The SDK recovers (RESUME), which is why nothing else notices.
//
// `it.fails` keeps the suite green while the bug is there and turns red once it is fixed:
// then change it to `it`.
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, type StateChange } from "../../src/index.js";
import { useServer } from "./server.js";

const server = useServer({ args: ["--ping", "1s"] });

describe("idle connections", () => {
  it.fails("an idle joined connection survives the server's pings (KNOWN SERVER BUG: dropped with 1006)", async () => {
    // pingIntervalMs 0: the SDK sends nothing, as a quiet client on a quiet match would.
    const c = new Client({ url: server().url, connection: { WebSocket, pingIntervalMs: 0, idleTimeoutMs: 0 } });
    await c.authGuest("quiet");
    const { reservation } = await c.createMatch({ game: "relay" });
    const m = await c.join(reservation);
    const changes: StateChange[] = [];
    m.connection.on("state", (s) => changes.push(s));
    try {
      // Three server pings (--ping 1s), the later ones more than 2 s after the last data frame.
      await new Promise((r) => setTimeout(r, 3500));
      expect(changes.map((s) => `${s.state} ${s.code}`)).toEqual([]);
    } finally {
      m.connection.close();
    }
  });
});
