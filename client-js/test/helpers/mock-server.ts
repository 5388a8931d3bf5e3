// A small stand-in for the tickrelay server, over real HTTP and the `ws` package, for phase-1
// tests of the SDK's Node path (and a smoke run of examples/bots.mjs). It speaks the wire
// protocol for the arena and relay games only, with one DELTA stream per match; it is NOT the
// reference: the integration tests in test/integration/ run against the real server binary.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decode } from "@msgpack/msgpack";
import { WebSocket, WebSocketServer } from "ws";
import { type Json, jsonToMsgpack } from "./msgpack-json.js";

interface Player {
  pid: number;
  user: string;
  name: string;
  session: Session | null;
  inputs: [number, number, number][]; // seq, dx, dy
  ack: number | null;
  direct: Json[];
}
interface MatchRec {
  id: string;
  game: string;
  tick: number;
  lastDelta: number;
  players: Map<number, Player>;
  pos: Map<number, [number, number]>;
  added: Set<number>;
  updated: Set<number>;
  removed: number[];
  events: Json[];
  maxPlayers: number;
  nextPid: number;
}
interface Session {
  id: string;
  resumeToken: string;
  user: string;
  name: string;
  ws: WebSocket | null;
  match: MatchRec | null;
  pid: number;
}

export interface MockServer {
  url: string;
  /** Closes every client socket with `code` (e.g. 4000 to exercise reconnect + resume). */
  kick(code: number): void;
  close(): Promise<void>;
  matches: Map<string, MatchRec>;
}

export async function startMockServer(): Promise<MockServer> {
  const matches = new Map<string, MatchRec>();
  const sessions = new Map<string, Session>();
  const users = new Map<string, string>(); // token -> name
  let seq = 0;

  const newMatch = (game: string, maxPlayers = 16): MatchRec => {
    const m: MatchRec = {
      id: `m-${++seq}`, game, tick: 0, lastDelta: 0, players: new Map(), pos: new Map(), added: new Set(),
      updated: new Set(), removed: [], events: [], maxPlayers, nextPid: 1,
    };
    matches.set(m.id, m);
    return m;
  };
  const info = (m: MatchRec) => ({
    id: m.id, game: m.game, label: {}, private: false, players: m.players.size, max_players: m.maxPlayers,
    tick: m.tick, tick_rate: 20, epoch: 1, owner: "mock", created_at: new Date().toISOString(),
    members: [...m.players.values()].map((p) => ({ pid: p.pid, player_id: p.user, name: p.name, connected: !!p.session?.ws })),
  });

  const http = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const body = await readBody(req);
    const auth = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (url.pathname === "/healthz") return send(200, { ok: true });
    if (req.method === "POST" && url.pathname === "/v1/auth/guest") {
      const name = (body as { name?: string })?.name ?? "guest";
      const token = `tok-${++seq}`;
      users.set(token, name);
      return send(200, { token, player_id: `guest-${seq}`, name, expires_at: new Date(Date.now() + 3600e3).toISOString() });
    }
    if (url.pathname === "/v1/matches" && req.method === "GET") {
      let list = [...matches.values()];
      const game = url.searchParams.get("game");
      if (game) list = list.filter((m) => m.game === game);
      if (url.searchParams.get("free") === "true") list = list.filter((m) => m.players.size < m.maxPlayers);
      return send(200, { matches: list.map(info) });
    }
    if (!users.has(auth)) return send(401, { error: { code: 2, name: "UNAUTHORIZED", message: "no token" } });
    if (url.pathname === "/v1/matches" && req.method === "POST") {
      const b = body as { game: string; max_players?: number };
      const m = newMatch(b.game, b.max_players);
      return send(201, { match: info(m), reservation: reservation(m) });
    }
    const j = /^\/v1\/matches\/([^/]+)\/join$/.exec(url.pathname);
    if (j && req.method === "POST") {
      const m = matches.get(j[1]!);
      if (!m) return send(404, { error: { code: 4, name: "NOT_FOUND", message: "no match" } });
      return send(200, reservation(m));
    }
    send(404, { error: { code: 4, name: "NOT_FOUND", message: url.pathname } });
  });
  const reservation = (m: MatchRec) => ({ match_id: m.id, address: `${wsUrl}`, ticket: `ticket:${m.id}`, expires_at: "" });

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has("tickrelay.v1") ? "tickrelay.v1" : false),
  });
  http.on("upgrade", (req, socket, head) => {
    const token = new URL(req.url ?? "/", "http://x").searchParams.get("token") ?? "";
    if (!users.has(token)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConn(ws, token));
  });

  const out = (ws: WebSocket | null, msg: Json) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(jsonToMsgpack(msg));
  };
  const ents = (ids: Iterable<number>, m: MatchRec): Json => ({
    map: [...ids].filter((id) => m.pos.has(id)).map((id) => [id, { map: [[0, { f32: m.pos.get(id)![0] }], [1, { f32: m.pos.get(id)![1] }]] }]),
  });
  const joinedMsg = (req: number, m: MatchRec, p: Player): Json => [
    // Like the real server: the state as of the last DELTA sent, so the next one applies on it.
    33, req, m.id, m.game, p.pid, 1, m.lastDelta, 20, ents([...m.pos.keys()].filter((id) => !m.added.has(id)), m), null,
    { map: [...m.players.values()].map((q) => [q.pid, [q.user, q.name, !!q.session?.ws]]) },
    m.game === "arena" ? ["x", "y"] : null,
  ];

  function onConn(ws: WebSocket, token: string) {
    let s: Session = { id: `s-${++seq}`, resumeToken: `r-${++seq}`, user: `user-${token}`, name: users.get(token)!, ws, match: null, pid: 0 };
    sessions.set(s.id, s);
    out(ws, [32, s.id, s.resumeToken, s.user, Date.now(), 30_000]);
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return ws.close(1003);
      const a = decode(data) as unknown[];
      const op = a[0] as number;
      if (op === 6) return out(ws, [36, a[1] as number, Date.now()]);
      if (op === 2) {
        const m = matches.get((a[2] as string) || String(a[3]).replace(/^ticket:/, ""));
        if (!m) return out(ws, [37, 4, "no match", 2, a[1] as number]);
        if (m.players.size >= m.maxPlayers) return out(ws, [37, 5, "match is full", 2, a[1] as number]);
        const p: Player = { pid: m.nextPid++, user: s.user, name: s.name, session: s, inputs: [], ack: null, direct: [] };
        m.players.set(p.pid, p);
        s.match = m;
        s.pid = p.pid;
        if (m.game === "arena") {
          m.pos.set(p.pid, [500, 500]);
          m.added.add(p.pid);
        }
        m.events.push([1, p.pid, [p.user, p.name]]);
        return out(ws, joinedMsg(a[1] as number, m, p));
      }
      const m = s.match;
      const p = m?.players.get(s.pid);
      if (op === 3) {
        if (m && p) {
          m.players.delete(p.pid);
          m.pos.delete(p.pid);
          m.removed.push(p.pid);
          m.events.push([2, p.pid, 1]);
        }
        s.match = null;
        return out(ws, [39, a[1] as number]);
      }
      if (op === 4 && p) p.inputs.push([a[1] as number, ...((a[3] as [number, number]) ?? [0, 0])]);
      if (op === 5 && m && p) {
        const to = a[1] as number[] | null;
        const msg: Json = [4, p.pid, a[3] as Json];
        if (to) {
          for (const q of m.players.values()) if (to.includes(q.pid) && q !== p) q.direct.push(msg);
        } else m.events.push(msg); // the sender's own copy is filtered out of its events below
        if (a[2]) p.direct.push(msg);
      }
      if (op === 7) {
        const old = sessions.get(a[2] as string);
        if (!old || old.resumeToken !== a[3]) return out(ws, [37, 13, "cannot resume", 7, a[1] as number]);
        sessions.delete(s.id);
        old.ws = ws;
        old.resumeToken = `r-${++seq}`;
        s = old;
        out(ws, [40, a[1] as number, s.id, s.resumeToken]);
        const rm = s.match;
        const rp = rm?.players.get(s.pid);
        if (rm && rp) out(ws, joinedMsg(a[1] as number, rm, rp));
      }
    });
    ws.on("close", () => {
      if (s.ws === ws) s.ws = null;
    });
  }

  const ticker = setInterval(() => {
    for (const m of matches.values()) {
      m.tick++;
      for (const p of m.players.values()) {
        for (const [sq, dx, dy] of p.inputs.splice(0)) {
          const q = m.pos.get(p.pid);
          if (q) {
            const l = Math.max(1, Math.hypot(dx, dy));
            q[0] = Math.max(0, Math.min(1000, q[0] + (5 * dx) / l));
            q[1] = Math.max(0, Math.min(1000, q[1] + (5 * dy) / l));
            m.updated.add(p.pid);
          }
          p.ack = sq;
        }
      }
      const acks = [...m.players.values()].some((p) => p.ack !== null || p.direct.length);
      if (!m.added.size && !m.updated.size && !m.removed.length && !m.events.length && !acks) continue;
      const upd = [...m.updated].filter((id) => !m.added.has(id));
      const changes: Json =
        m.added.size || upd.length || m.removed.length
          ? [m.added.size ? ents(m.added, m) : null, upd.length ? ents(upd, m) : null, m.removed.length ? m.removed : null]
          : null;
      for (const p of m.players.values()) {
        const events = m.events.filter((e) => !((e as number[])[0] === 4 && (e as number[])[1] === p.pid));
        out(p.session?.ws ?? null, [34, 1, m.tick, m.tick - m.lastDelta, changes, events.length ? events : null, p.ack, null, p.direct.length ? p.direct : null]);
        p.ack = null;
        p.direct = [];
      }
      m.lastDelta = m.tick;
      m.added.clear();
      m.updated.clear();
      m.removed = [];
      m.events = [];
    }
  }, 50);

  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}/ws`;
  return {
    url,
    matches,
    kick(code: number) {
      for (const c of wss.clients) c.close(code, "kick");
    },
    async close() {
      clearInterval(ticker);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => (http as Server).close(() => r()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (!chunks.length) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  }
}
