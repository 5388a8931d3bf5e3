// A refused session token against the real server: the SDK ends in the terminal state `closed`
// with close code 4100 AUTH and the server's reason (not a 1006 and reconnecting forever), and a
// new token connects again.
import { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { Client, CloseCode, ConnectionState, type StateChange } from "../../src/index.js";
import { useServer } from "./server.js";
import { nextEvent } from "./util.js";

const server = useServer();

describe("a refused token", () => {
  it("is a terminal close 4100 with the reason; a new token connects", async () => {
    const client = new Client({ url: server().url, token: "not-a-jwt", connection: { WebSocket } });
    const conn = client.connection();
    const states: StateChange[] = [];
    conn.on("state", (s) => states.push(s));
    await expect(conn.connect()).rejects.toMatchObject({ details: { closeCode: CloseCode.AUTH } });
    expect(conn.state).toBe(ConnectionState.CLOSED);
    expect(conn.closeCode).toBe(CloseCode.AUTH);
    expect(conn.closeReason).toMatch(/4100 AUTH: session token refused \(.*\): get a new one/);
    expect(states.map((s) => s.state)).not.toContain(ConnectionState.RECONNECTING);

    await client.authGuest("erin");
    const welcomed = nextEvent(conn, "welcome", "WELCOME with a new token");
    await conn.connect();
    await welcomed;
    expect(conn.state).toBe(ConnectionState.CONNECTED);
    expect(conn.closeReason).toBe("");
    conn.close();
  });
});
