// The HTTP side of tickrelay (server/API.md): guest auth, matches, seat reservations, and a
// factory for WebSocket connections. Uses the global fetch (browsers, Node >= 18) unless one is
// passed in. JSON field names are the API's own (snake_case).

import { ErrorCode } from "./codes.js";
import { CONNECTION_OPTIONS, Connection, type ConnectionOptions } from "./connection.js";
import { TickrelayError } from "./errors.js";
import { checkOptions } from "./options.js";
import { Match, type JoinOptions } from "./match.js";
import * as mm from "./matchmaking.js";

export interface GuestAuth {
  token: string;
  player_id: string;
  name: string;
  expires_at: string;
}

export interface MatchMember {
  pid: number;
  /** Shown only to the match's members, its creator and the backend (send your token). */
  player_id?: string;
  name: string;
  connected: boolean;
}

export interface MatchInfo {
  id: string;
  game: string;
  label: Record<string, string>;
  private: boolean;
  players: number;
  /** Seats held by live reservations not yet joined (listings count them as taken). */
  reserved?: number;
  max_players: number;
  tick: number;
  tick_rate: number;
  epoch: number;
  owner: string;
  created_at: string;
  members: MatchMember[];
}

export interface Reservation {
  match_id: string;
  /** WebSocket URL to connect to for this seat. */
  address: string;
  /** Single-use, valid for 30 s: JOIN with it. */
  ticket: string;
  expires_at: string;
}

export interface CreateMatchRequest {
  game: string;
  params?: unknown;
  private?: boolean;
  max_players?: number;
  label?: Record<string, string>;
}

export interface ListMatchesFilter {
  game?: string;
  /** Only matches with a free seat. */
  free?: boolean;
  /** label.KEY=VALUE filters. */
  label?: Record<string, string>;
  /** Page size, 1–100 (the server's --list-limit). */
  limit?: number;
  /** The `next` cursor of the previous page. */
  cursor?: string;
}

export interface ClientOptions {
  /** The server's HTTP base URL, e.g. "http://127.0.0.1:8080" (default: the page's origin). */
  url?: string;
  /** A session token (else call authGuest()). */
  token?: string | null;
  fetch?: typeof fetch;
  /** Defaults for connections made by connect(). */
  connection?: Partial<ConnectionOptions>;
}

const CLIENT_OPTIONS = ["url", "token", "fetch", "connection"] as const satisfies readonly (keyof ClientOptions)[];
const allClientOptions: Exclude<keyof ClientOptions, (typeof CLIENT_OPTIONS)[number]> extends never ? true : never = true;
void allClientOptions;
const CLIENT_HINTS: Record<string, string> = {
  WebSocket: "connection options go under `connection`: new Client({ url, connection: { WebSocket } })",
  baseUrl: "the option is `url`",
};

type FetchLike = typeof fetch;

export class Client {
  readonly url: string;
  /** The session token used for authenticated calls and connections. */
  token: string | null;
  private readonly fetchFn: FetchLike;
  private readonly connDefaults: Partial<ConnectionOptions>;

  constructor(opts: ClientOptions = {}) {
    checkOptions(opts, CLIENT_OPTIONS, "Client", CLIENT_HINTS);
    checkOptions(opts.connection, CONNECTION_OPTIONS, "Client connection");
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
    const url = opts.url ?? origin;
    if (!url) throw new TickrelayError(ErrorCode.BAD_REQUEST, "Client needs a url outside a browser");
    this.url = url.replace(/\/+$/, "");
    this.token = opts.token ?? null;
    const f = opts.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!f) throw new TickrelayError(ErrorCode.UNSUPPORTED, "no fetch: pass the `fetch` option");
    this.fetchFn = f.bind(globalThis);
    this.connDefaults = opts.connection ?? {};
  }

  /** POST /v1/auth/guest: a guest session token (kept in this.token). */
  async authGuest(name?: string): Promise<GuestAuth> {
    const r = await this.http<GuestAuth>("POST", "/v1/auth/guest", name === undefined ? {} : { name }, false);
    this.token = r.token;
    return r;
  }

  /** POST /v1/matches: creates a match and reserves a seat in it for you. */
  createMatch(req: CreateMatchRequest): Promise<{ match: MatchInfo; reservation: Reservation }> {
    return this.http("POST", "/v1/matches", req, true);
  }

  /** GET /v1/matches: the first page of public matches (see listMatchesPage for the rest). */
  async listMatches(filter: ListMatchesFilter = {}): Promise<MatchInfo[]> {
    return (await this.listMatchesPage(filter)).matches;
  }

  /** GET /v1/matches: one page of public matches and the cursor of the next ("" after the last). */
  async listMatchesPage(filter: ListMatchesFilter = {}): Promise<{ matches: MatchInfo[]; next: string }> {
    const q = new URLSearchParams();
    if (filter.game) q.set("game", filter.game);
    if (filter.free !== undefined) q.set("free", String(filter.free));
    if (filter.limit !== undefined) q.set("limit", String(filter.limit));
    if (filter.cursor) q.set("cursor", filter.cursor);
    for (const [k, v] of Object.entries(filter.label ?? {})) q.set(`label.${k}`, v);
    const qs = q.toString();
    const r = await this.http<{ matches: MatchInfo[] | null; next?: string }>("GET", `/v1/matches${qs ? "?" + qs : ""}`, undefined, false);
    return { matches: r.matches ?? [], next: r.next ?? "" };
  }

  /** GET /v1/matches/{id}. */
  getMatch(id: string): Promise<MatchInfo> {
    return this.http("GET", `/v1/matches/${encodeURIComponent(id)}`, undefined, false);
  }

  /** POST /v1/matches/{id}/join: reserves a seat; JOIN with the ticket within 15 s (the server's --reservation-ttl). */
  reserveSeat(id: string): Promise<Reservation> {
    return this.http("POST", `/v1/matches/${encodeURIComponent(id)}/join`, {}, true);
  }

  /** The WebSocket URL of this server: ws(s)://host/ws. */
  get wsUrl(): string {
    return this.url.replace(/^http/, "ws") + "/ws";
  }

  /**
   * A connection (not yet connected) to this server, or to `opts.url` (a reservation's
   * address), authenticated with this client's current token at each (re)connect.
   */
  connection(opts: Partial<ConnectionOptions> = {}): Connection {
    checkOptions(opts, CONNECTION_OPTIONS, "client.connection");
    return new Connection({
      token: () => this.token,
      ...this.connDefaults,
      ...opts,
      url: opts.url ?? this.connDefaults.url ?? this.wsUrl,
    });
  }

  /**
   * Connects and joins in one go: by match id, or with a reservation (connecting to its
   * address). Returns the Match; its connection is `match.connection`.
   */
  async join(
    target: string | Reservation,
    opts: JoinOptions & { connection?: Partial<ConnectionOptions>; setup?: (m: Match) => void } = {},
  ): Promise<Match> {
    const byTicket = typeof target !== "string";
    const conn = this.connection({ ...(byTicket ? { url: target.address } : {}), ...opts.connection });
    await conn.connect();
    const match = new Match(conn);
    opts.setup?.(match);
    try {
      if (byTicket) await match.join({ match: target.match_id, ticket: target.ticket, meta: opts.meta });
      else await match.join(target, { meta: opts.meta });
    } catch (err) {
      conn.close();
      throw err;
    }
    return match;
  }

  /**
   * Matchmaking: opens a ticket in opts.queue (for your party, if you lead one), follows it
   * through the events the server pushes to the connection, and resolves with the joined Match
   * (rejects with EXPIRED, CONFLICT when cancelled elsewhere, or opts.signal's reason).
   */
  matchmake(opts: mm.MatchmakeOptions): Promise<Match> {
    return mm.matchmake(this, opts);
  }

  /** For a party member: follows the leader's ticket and joins the match it lands in. */
  followParty(party: string, opts: mm.FollowOptions = {}): Promise<Match> {
    return mm.followParty(this, party, opts);
  }

  /** POST /v1/parties: a party you lead; others join with its code. */
  createParty(): Promise<mm.Party> {
    return mm.createParty(this);
  }

  /** POST /v1/parties/join. */
  joinParty(code: string): Promise<mm.Party> {
    return mm.joinParty(this, code);
  }

  /** An HTTP API call (JSON in and out; errors as TickrelayError with the API's code). */
  request<T>(method: string, path: string, body: unknown, auth: boolean): Promise<T> {
    return this.http<T>(method, path, body, auth);
  }

  private async http<T>(method: string, path: string, body: unknown, auth: boolean): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (auth || this.token) {
      if (!this.token && auth) throw new TickrelayError(ErrorCode.UNAUTHORIZED, "no token: call authGuest() first");
      if (this.token) headers.authorization = `Bearer ${this.token}`;
    }
    let res: Response;
    try {
      res = await this.fetchFn(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new TickrelayError(ErrorCode.UNAVAILABLE, `${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown = undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: number; message?: string } } | undefined)?.error;
      throw new TickrelayError(e?.code ?? statusCode(res.status), e?.message ?? `${method} ${path}: HTTP ${res.status}`, {
        status: res.status,
      });
    }
    return json as T;
  }
}

function statusCode(status: number): number {
  switch (status) {
    case 400: return ErrorCode.BAD_REQUEST;
    case 401: return ErrorCode.UNAUTHORIZED;
    case 403: return ErrorCode.FORBIDDEN;
    case 404: return ErrorCode.NOT_FOUND;
    case 409: return ErrorCode.JOIN_REFUSED;
    case 410: return ErrorCode.EXPIRED;
    case 413: return ErrorCode.TOO_LARGE;
    case 429: return ErrorCode.RATE_LIMITED;
    case 503: return ErrorCode.UNAVAILABLE;
    default: return ErrorCode.INTERNAL;
  }
}
