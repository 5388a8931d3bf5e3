// Matchmaking (server/API.md "Matchmaking"): tickets, parties, and matchmake(), which opens a
// ticket, follows it through the EVENT TICKET the server pushes to the session (no polling),
// and joins the match it lands in. Everything runs on the caller's event loop.

import { ConnectionState, type Connection, type ConnectionOptions } from "./connection.js";
import { ErrorCode, EventKind } from "./codes.js";
import { TickrelayError } from "./errors.js";
import { Match } from "./match.js";
import type { Client, Reservation } from "./client.js";

export type TicketStatus = "searching" | "matched" | "expired" | "cancelled";

/** A matched ticket's seat for you (as POST /v1/matches/{id}/join returns, plus seat and team). */
export interface TicketReservation extends Reservation {
  seat: number;
  /** 1-based team number; 0 when the queue has no teams. */
  team: number;
}

/** A matchmaking ticket as the server shows it to one of its players. */
export interface Ticket {
  id: string;
  queue: string;
  status: TicketStatus;
  /** Grows with every change the server records. */
  version: number;
  created_at: string;
  expires_at: string;
  /** Player ids on the ticket (a party's members). */
  players: string[];
  party?: string;
  waited_ms: number;
  /** The skill window in force (and, while searching, the region preference: own, neighbours, any). */
  window?: { skill: number; region?: string };
  /** Searching, and a placement is reserving the seats of a match found. */
  placing?: boolean;
  match_id?: string;
  reservation?: TicketReservation;
  /** Why it expired or was cancelled. */
  reason?: string;
}

export interface PartyMember {
  player_id: string;
  name: string;
}

export interface Party {
  id: string;
  /** The invite code others join with. */
  code: string;
  leader: string;
  members: PartyMember[];
  created_at: string;
  /** The live ticket, while the leader is matchmaking. */
  ticket?: string;
}

export interface QueueInfo {
  name: string;
  game: string;
  players: number;
  min_players: number;
  teams: number;
  seats: number;
  backfill: boolean;
  ticket_ttl_ms: number;
  start_after_ms: number;
}

/** Progress of a matchmake(): reported on every change and about once a second meanwhile. */
export interface MatchmakeProgress {
  ticket: Ticket | null;
  status: TicketStatus | "opening";
  /** ms since the ticket was opened (counted locally between the server's reports). */
  waited: number;
  window?: { skill: number; region?: string };
}

export interface FollowOptions {
  /** Aborting cancels the ticket (if it is not matched yet) and rejects with signal.reason. */
  signal?: AbortSignal;
  onProgress?: (p: MatchmakeProgress) => void;
  /**
   * The connection that receives the ticket's events and joins the match (it must not be in a
   * match). Default: a new one from client.connection(), closed again if matchmaking fails.
   */
  connection?: Connection;
  connectionOptions?: Partial<ConnectionOptions>;
  /** JOIN meta for the game's admission check. */
  meta?: unknown;
  /** Called with the Match before it joins (attach listeners here). */
  setup?: (m: Match) => void;
}

export interface MatchmakeOptions extends FollowOptions {
  queue: string;
  /** "skill" (number) and "region" (string) are the matcher's; at most 16 short values. */
  properties?: Record<string, string | number | boolean | null>;
}

const enc = encodeURIComponent;

/** POST /v1/matchmaking/tickets. */
export function createTicket(client: Client, queue: string, properties: MatchmakeOptions["properties"] = {}): Promise<Ticket> {
  return client.request("POST", "/v1/matchmaking/tickets", { queue, properties }, true);
}

/** GET /v1/matchmaking/tickets/{id}; with waitMs, long-polls until the status changes. */
export function getTicket(client: Client, id: string, waitMs = 0): Promise<Ticket> {
  const q = waitMs > 0 ? `?wait=${Math.ceil(waitMs)}ms` : "";
  return client.request("GET", `/v1/matchmaking/tickets/${enc(id)}${q}`, undefined, true);
}

/** DELETE /v1/matchmaking/tickets/{id} (fails with CONFLICT once matched). */
export function cancelTicket(client: Client, id: string): Promise<Ticket> {
  return client.request("DELETE", `/v1/matchmaking/tickets/${enc(id)}`, undefined, true);
}

export async function listQueues(client: Client): Promise<QueueInfo[]> {
  const r = await client.request<{ queues: QueueInfo[] }>("GET", "/v1/matchmaking/queues", undefined, false);
  return r.queues;
}

export function createParty(client: Client): Promise<Party> {
  return client.request("POST", "/v1/parties", {}, true);
}

export function joinParty(client: Client, code: string): Promise<Party> {
  return client.request("POST", "/v1/parties/join", { code }, true);
}

export function getParty(client: Client, id: string): Promise<Party> {
  return client.request("GET", `/v1/parties/${enc(id)}`, undefined, true);
}

export async function leaveParty(client: Client, id: string): Promise<void> {
  await client.request("POST", `/v1/parties/${enc(id)}/leave`, {}, true);
}

function isTicket(v: unknown): v is Ticket {
  return typeof v === "object" && v !== null && typeof (v as Ticket).id === "string" && typeof (v as Ticket).status === "string";
}

/**
 * Opens a ticket in opts.queue (for your whole party if you lead one) and resolves with the
 * joined Match once the server found one; rejects with EXPIRED when no match came within the
 * ticket's lifetime, CONFLICT when the ticket was cancelled elsewhere, or signal.reason.
 */
export function matchmake(client: Client, opts: MatchmakeOptions): Promise<Match> {
  return follow(client, opts, () => createTicket(client, opts.queue, opts.properties), () => true);
}

/**
 * For a party member: waits for the leader's ticket (the one open now, or the next one) and
 * resolves with the joined Match, like matchmake().
 */
export function followParty(client: Client, party: string, opts: FollowOptions = {}): Promise<Match> {
  return follow(
    client,
    opts,
    async () => {
      const p = await getParty(client, party);
      return p.ticket ? getTicket(client, p.ticket) : null;
    },
    (t) => t.party === party,
  );
}

function follow(
  client: Client,
  opts: FollowOptions,
  open: () => Promise<Ticket | null>,
  adopt: (t: Ticket) => boolean,
): Promise<Match> {
  const own = !opts.connection;
  const conn = opts.connection ?? client.connection(opts.connectionOptions);
  const start = Date.now();
  return new Promise<Match>((resolve, reject) => {
    let ticket: Ticket | null = null;
    let seenAt = Date.now();
    let opened = false;
    let done = false;
    const early: Ticket[] = [];
    const cleanup = (): void => {
      done = true;
      offEvent();
      offState();
      clearInterval(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    };
    const fail = (err: unknown): void => {
      if (done) return;
      cleanup();
      if (own) conn.close();
      reject(err);
    };
    const report = (): void => {
      if (done || !opts.onProgress) return;
      const waited = ticket ? ticket.waited_ms + (Date.now() - seenAt) : Date.now() - start;
      try {
        opts.onProgress({ ticket, status: ticket?.status ?? "opening", waited, window: ticket?.window });
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    };
    const update = (t: Ticket): void => {
      if (done) return;
      if (!ticket) {
        if (!opened || !adopt(t)) {
          early.push(t);
          return;
        }
      } else if (t.id !== ticket.id || t.version < ticket.version) {
        return;
      }
      ticket = t;
      seenAt = Date.now();
      report();
      if (t.status !== "searching") void outcome(t);
    };
    const outcome = async (t: Ticket): Promise<void> => {
      if (t.status === "expired") return fail(new TickrelayError(ErrorCode.EXPIRED, `no match found: ${t.reason ?? "expired"}`));
      if (t.status === "cancelled") return fail(new TickrelayError(ErrorCode.CONFLICT, `the ticket was cancelled: ${t.reason ?? ""}`));
      const res = t.reservation;
      if (!res) return fail(new TickrelayError(ErrorCode.INTERNAL, "a matched ticket without a reservation"));
      cleanup();
      let c = conn;
      try {
        if (res.address && res.address !== conn.url) {
          // The match runs on another instance that is reachable directly: connect there.
          c = client.connection({ ...opts.connectionOptions, url: res.address });
          await c.connect();
          if (own) conn.close();
        }
        const m = new Match(c);
        opts.setup?.(m);
        await m.join({ match: res.match_id, ticket: res.ticket, meta: opts.meta });
        resolve(m);
      } catch (err) {
        if (c !== conn || own) c.close();
        if (c !== conn && own) conn.close();
        reject(err);
      }
    };
    const onAbort = (): void => {
      const reason = opts.signal?.reason ?? new TickrelayError(ErrorCode.CONFLICT, "matchmaking aborted");
      const t = ticket;
      fail(reason);
      if (t && t.status === "searching") cancelTicket(client, t.id).catch(() => undefined);
    };
    const offEvent = conn.on("event", (m) => {
      if (m.kind === EventKind.TICKET && isTicket(m.data)) update(m.data);
    });
    // Events sent while the connection was down are lost: read the ticket once it is back.
    const offState = conn.on("state", (ch) => {
      if (ch.state === ConnectionState.CONNECTED && ch.prev === ConnectionState.RECONNECTING && ticket) {
        getTicket(client, ticket.id).then(update, () => undefined);
      }
    });
    const timer = setInterval(report, 1000);
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    report();
    (async () => {
      if (conn.state !== ConnectionState.CONNECTED) await conn.connect();
      const t = await open();
      if (done) {
        if (t && t.status === "searching" && opts.signal?.aborted) await cancelTicket(client, t.id).catch(() => undefined);
        return;
      }
      opened = true;
      const pending = early.splice(0);
      if (t) update(t);
      for (const e of pending) update(e);
    })().catch(fail);
  });
}
