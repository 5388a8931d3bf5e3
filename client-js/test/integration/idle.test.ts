// A joined connection with nothing to say must stay up across the server's WebSocket pings.
//
// Regression test for a server bug: server/writer.go left the socket's write deadline at "last
// data write + 2 × --write-timeout" (2 s by default) and the ping timer wrote the ping straight
// to the socket, so the write failed with a timeout and gws dropped the TCP connection without a
// close frame. A session that got no data for 2 s before a server ping (every --ping, 10 s by
// default: an idle chat room, an arena where nobody moves) was dropped with 1006 every 10 s, and
// the SDK's RESUME hid it. Pings and pongs now go through the session's writer.
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, type StateChange } from "../../src/index.js";
import { useServer } from "./server.js";

const server = useServer({ args: ["--ping", "1s"] });

describe("idle connections", () => {
  it("an idle joined connection survives the server's pings (no 1006 drop, no resume)", async () => {
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
