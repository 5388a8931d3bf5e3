// The HTTP client against a fake fetch: paths, query strings, auth headers, error mapping.
import { describe, expect, it } from "vitest";
import { Client, ErrorCode, TickrelayError } from "../src/index.js";

function fakeFetch(respond: (url: string, init: RequestInit) => [number, unknown]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const [status, body] = respond(url, init);
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
  return { f, calls };
}

describe("Client", () => {
  it("gets a guest token and uses it as a bearer token", async () => {
    const { f, calls } = fakeFetch((url) =>
      url.endsWith("/v1/auth/guest")
        ? [200, { token: "T", player_id: "guest-1", name: "ann", expires_at: "x" }]
        : [201, { match: { id: "m-1" }, reservation: { match_id: "m-1", address: "ws://h/ws", ticket: "t", expires_at: "" } }],
    );
    const c = new Client({ url: "http://h:8080/", fetch: f });
    expect((await c.authGuest("ann")).player_id).toBe("guest-1");
    expect(c.token).toBe("T");
    expect(calls[0]!.url).toBe("http://h:8080/v1/auth/guest");
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({ name: "ann" });
    const r = await c.createMatch({ game: "arena", max_players: 4 });
    expect(r.reservation.ticket).toBe("t");
    expect((calls[1]!.init.headers as Record<string, string>).authorization).toBe("Bearer T");
    expect(c.wsUrl).toBe("ws://h:8080/ws");
    expect(new Client({ url: "https://a.example", fetch: f }).wsUrl).toBe("wss://a.example/ws");
  });

  it("builds list filters and tolerates a null list", async () => {
    const { f, calls } = fakeFetch(() => [200, { matches: null }]);
    const c = new Client({ url: "http://h", fetch: f });
    expect(await c.listMatches({ game: "arena", free: true, label: { mode: "ffa" }, limit: 5 })).toEqual([]);
    expect(calls[0]!.url).toBe("http://h/v1/matches?game=arena&free=true&limit=5&label.mode=ffa");
  });

  it("maps API errors to TickrelayError with code, name and status", async () => {
    const { f } = fakeFetch(() => [409, { error: { code: 5, name: "MATCH_FULL", message: "match is full" } }]);
    const c = new Client({ url: "http://h", fetch: f, token: "T" });
    const err = await c.reserveSeat("m-1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TickrelayError);
    expect(err).toMatchObject({ code: ErrorCode.MATCH_FULL, codeName: "MATCH_FULL", message: "match is full", details: { status: 409 } });
    const { f: f2 } = fakeFetch(() => [503, undefined]);
    await expect(new Client({ url: "http://h", fetch: f2 }).getMatch("x")).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });
  });

  it("refuses authenticated calls without a token", async () => {
    const { f, calls } = fakeFetch(() => [200, {}]);
    await expect(new Client({ url: "http://h", fetch: f }).createMatch({ game: "arena" })).rejects.toMatchObject({
      code: ErrorCode.UNAUTHORIZED,
    });
    expect(calls).toEqual([]);
  });
});

describe("options", () => {
  it("refuses unknown options loudly, with a hint for WebSocket at the top level", () => {
    const ws = class {} as unknown;
    expect(() => new Client({ url: "http://h", WebSocket: ws } as never)).toThrow(/unknown option "WebSocket".*connection: \{ WebSocket \}/);
    expect(() => new Client({ url: "http://h", connection: { WebSockets: ws } } as never)).toThrow(/Client connection: unknown option "WebSockets"/);
    const c = new Client({ url: "http://h", fetch: (async () => new Response()) as unknown as typeof fetch });
    expect(() => c.connection({ retry: true } as never)).toThrow(/unknown option "retry"/);
    expect(() => new Client({ url: "http://h", connection: { WebSocket: ws as never, requestTimeoutMs: 5 } })).not.toThrow();
    expect(() => new Client({ url: "http://h", tokn: "x" } as never)).toThrow(/known options: url, token, fetch, connection/);
    expect(() => new Client({ url: "http://h", tokn: "x" } as never)).toThrow(TickrelayError);
  });
});
