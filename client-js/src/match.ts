// A seat in one match over a Connection: join (by id or reservation ticket), the state mirror,
// inputs with automatic seq, messages, typed events, gap repair with SYNC, and leave.
//
//     const match = new Match(conn);
//     match.on("fieldChanged", (id, field, value) => draw(id));
//     await match.join("m-1");
//     match.sendInput([1, 0]);

import { fullJitter } from "./backoff.js";
import { CloseCode, EndReason, ErrorCode, EventKind, LeaveReason, Op } from "./codes.js";
import type {
  CatchupMsg,
  DeltaMsg,
  EndMsg,
  JoinedMsg,
  LeftMsg,
  MatchEvent,
  Member,
} from "./codec.js";
import type { Connection, MatchSlot, PingResult } from "./connection.js";
import { Emitter } from "./emitter.js";
import { TickrelayError } from "./errors.js";
import { type Fields, StateMirror } from "./state.js";

export const MatchStatus = {
  IDLE: "idle",
  JOINING: "joining",
  JOINED: "joined",
  /** Left: on request, kicked, timed out, or the session was lost. */
  LEFT: "left",
  ENDED: "ended",
} as const;
export type MatchStatus = (typeof MatchStatus)[keyof typeof MatchStatus];

/** Why a Match stopped being in its match (the `left` event). */
export interface LeftInfo {
  /**
   * LeaveReason when the server said (LEFT → 1 "left", TIMEOUT → 3 when a resume found the seat
   * expired, KICKED → 4, ENDED → 5, REPLACED → 6 when another connection of yours took the seat),
   * 0 when the session was lost.
   */
  reason: number;
  /** Set when the session was lost (terminal close, failed resume). */
  error?: TickrelayError;
}

export type MatchEvents = {
  /** JOINED arrived for our JOIN: state, members and pid are set. */
  joined: [match: Match];
  /** A JOINED replaced the whole state (after SYNC or RESUME when deltas were no longer kept). */
  snapshot: [match: Match];
  /** A DELTA was applied (after every entity/player/message event it caused). */
  delta: [delta: DeltaMsg];
  entityAdded: [id: number, fields: Fields];
  fieldChanged: [id: number, field: string, value: unknown, prev: unknown];
  entityRemoved: [id: number, fields: Fields];
  playerJoined: [pid: number, member: Member];
  /**
   * reason: LeaveReason (DROPPED keeps the seat, and the member, for the reconnect grace);
   * `member` is who it was (already removed from `members` unless DROPPED).
   */
  playerLeft: [pid: number, reason: number, member: Member | undefined];
  playerRejoined: [pid: number];
  /**
   * MESSAGE events, in the order the match received them. The server always puts messages in
   * your own part of the DELTA (`direct` is true for them), so they are not replayed after a
   * resume: messages sent while you were away are lost (keep chat history in your game).
   */
  message: [from: number, payload: unknown, direct: boolean];
  /** GAME events: [name, payload] emitted by the game. */
  gameEvent: [name: string, payload: unknown];
  /** SERVER events published by the backend. */
  serverEvent: [payload: unknown];
  /** Every event of a DELTA, raw, including the kinds above. */
  event: [event: MatchEvent, direct: boolean];
  /** The server applied your inputs up to `seq`. */
  ack: [seq: number];
  /** A DELTA did not follow the state; the mirror is untouched and a SYNC was sent. */
  gap: [info: { epoch: number; tick: number; since: number; have: { epoch: number; tick: number } }];
  end: [reason: number, result: unknown];
  left: [info: LeftInfo];
  /**
   * The connection was lost while in the match (or left a stale instance): the SDK reconnects
   * (full-jitter backoff) to `url` in `delay` ms and resumes. The match stays JOINED meanwhile;
   * inputs are not sent (sendInput returns 0).
   */
  reconnecting: [info: { code: number; reason: string; url: string; delay: number }];
  /**
   * The match moved to another instance: a close 4003 MOVED (a drain; `url` is where it went, or
   * null) or an END MOVED (the copy on this instance was stale; `url` null). The SDK follows it.
   */
  moved: [info: { url: string | null; via: "close" | "end" }];
  /**
   * Back in the match after a reconnect or a move: the state is current again (from a CATCHUP,
   * or a snapshot: `how`), on `epoch` (a restored match has a new one). `pid` may differ from
   * before only when the seat was gone and the JOIN by id gave a new one.
   */
  resumed: [info: { how: "catchup" | "snapshot" | "rejoin"; epoch: number; tick: number; pid: number }];
  /** ERRORs about your INPUT/MESSAGE/SYNC, and failed joins. */
  error: [err: TickrelayError];
};

export interface JoinOptions {
  /** A seat-reservation ticket from the HTTP API (then the id may be ""). */
  ticket?: string;
  /** Passed to the game's admission check. */
  meta?: unknown;
}

export interface MessageOptions {
  /** Recipient pids (default: everyone). */
  to?: number[] | null;
  /** Also deliver to yourself. Default false. */
  echo?: boolean;
}

export class Match extends Emitter<MatchEvents> implements MatchSlot {
  status: MatchStatus = MatchStatus.IDLE;
  /** Match id, game name, your pid and the tick rate, from JOINED. */
  id = "";
  game = "";
  pid = 0;
  tickRate = 0;
  /** Members by pid, kept up to date from JOIN/LEAVE/REJOIN events. */
  readonly members = new Map<number, Member>();
  /** The mirrored state: `state.entities`, `state.tick`, `state.epoch`. */
  readonly state: StateMirror;
  /** The last input seq the server applied (0 before any). */
  lastAck = 0;
  /** The seq of the last input sent. */
  seq = 0;

  private syncing = false;
  /** A reconnect is under way (or done, waiting for its CATCHUP/JOINED): emit "resumed" then. */
  private resuming = false;
  /** The seat must be taken back with a JOIN by id (RESUME failed, or the copy was stale). */
  private following = false;
  private followAttempt = 0;
  private followSince = 0;
  private followTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the seat is being taken back (the RESUME_FAILED), for `left` if that fails. */
  private followCause: TickrelayError | undefined;
  /**
   * How long a Match keeps trying to take its seat back (JOIN by id) after its instance was lost
   * before it gives up (`left`), ms. The claim of a dead owner's match takes up to its lease
   * (~3 s); the seat is kept for the game's reconnect grace (10 s by default).
   */
  followTimeoutMs = 30_000;
  /** Runs when the answer to a RESUME (CATCHUP, JOINED, ERROR or END) is overdue. */
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  /** How long after RESUMED the match waits for its CATCHUP/JOINED before it JOINs by id, ms. */
  resumeAnswerMs = 1500;

  constructor(readonly connection: Connection) {
    super();
    this.state = new StateMirror({
      entityAdded: (id, f) => this.emit("entityAdded", id, f),
      fieldChanged: (id, name, v, prev) => this.emit("fieldChanged", id, name, v, prev),
      entityRemoved: (id, f) => this.emit("entityRemoved", id, f),
    });
  }

  /** The tick of the state you have. */
  get tick(): number {
    return this.state.tick;
  }

  get epoch(): number {
    return this.state.epoch;
  }

  /**
   * Joins a match by id, or by reservation: join("", { ticket }) or join({ ticket }).
   * Resolves with this Match once JOINED; rejects with the server's error (MATCH_FULL, …).
   */
  join(target: string | (JoinOptions & { match?: string }), opts: JoinOptions = {}): Promise<this> {
    const o = typeof target === "string" ? { ...opts, match: target } : target;
    const conn = this.connection;
    if (conn.slot && conn.slot !== this) {
      return Promise.reject(new TickrelayError(ErrorCode.ALREADY_JOINED, "this connection is in another match: leave it first"));
    }
    if (this.status === MatchStatus.JOINING || this.status === MatchStatus.JOINED) {
      return Promise.reject(new TickrelayError(ErrorCode.ALREADY_JOINED, "already joined"));
    }
    this.reset();
    this.status = MatchStatus.JOINING;
    conn.slot = this;
    return new Promise((resolve, reject) => {
      conn.request(
        (req) => ({ op: Op.JOIN, req, match: o.match ?? "", ticket: o.ticket ?? null, meta: o.meta ?? null }),
        {
          onReply: (m) => {
            if (m.op === Op.JOINED && this.status === MatchStatus.JOINED) resolve(this);
            else reject(new TickrelayError(ErrorCode.INTERNAL, `unexpected reply to JOIN (op ${m.op})`));
          },
          onError: (err) => {
            // A dropped socket leaves the slot in place: if the server did seat us, the JOINED
            // that follows the RESUME is adopted.
            if (err.code !== ErrorCode.UNAVAILABLE && this.status === MatchStatus.JOINING) {
              this.status = MatchStatus.IDLE;
              if (conn.slot === this) conn.slot = null;
            }
            reject(err);
          },
        },
      );
    });
  }

  /** Leaves the match; resolves on LEFT. */
  leave(): Promise<void> {
    if (this.status !== MatchStatus.JOINED) return Promise.resolve();
    return this.connection.call((req) => ({ op: Op.LEAVE, req })).then(() => {});
  }

  /**
   * Sends an input with the next seq and returns that seq, or 0 when not joined or not
   * connected (inputs are not queued across a reconnect: they would be stale).
   */
  sendInput(payload: unknown): number {
    if (this.status !== MatchStatus.JOINED || !this.connection.open) return 0;
    const seq = this.seq + 1;
    if (!this.connection.send({ op: Op.INPUT, seq, seen: this.state.tick, payload })) return 0;
    this.seq = seq;
    return seq;
  }

  /** Sends a MESSAGE to everyone (or `to`); returns whether it was sent. */
  sendMessage(payload: unknown, opts: MessageOptions = {}): boolean {
    if (this.status !== MatchStatus.JOINED) return false;
    return this.connection.send({ op: Op.MESSAGE, to: opts.to ?? null, echo: opts.echo ?? false, payload });
  }

  /** Round-trip time and server clock offset (see Connection.ping). */
  ping(): Promise<PingResult> {
    return this.connection.ping();
  }

  // ---- MatchSlot: called by the connection, synchronously, in stream order ----

  resumePoint(): { epoch: number; tick: number } {
    return this.state.ready ? { epoch: this.state.epoch, tick: this.state.tick } : { epoch: 0, tick: 0 };
  }

  onJoined(m: JoinedMsg): void {
    const first = this.status !== MatchStatus.JOINED || m.match !== this.id;
    if (first && m.match !== this.id) {
      this.seq = 0;
      this.lastAck = 0;
    }
    this.id = m.match;
    this.game = m.game;
    this.pid = m.pid;
    this.tickRate = m.tickRate;
    this.members.clear();
    for (const [pid, mem] of m.members) this.members.set(pid, mem);
    // The seat's inputs may have come from another connection (a takeover, or a snapshot after
    // a resume): continue after the last one the match applied, or new inputs would be ignored.
    if (m.ack > this.seq) this.seq = m.ack;
    if (m.ack > this.lastAck) this.lastAck = m.ack;
    this.status = MatchStatus.JOINED;
    this.syncing = false;
    this.clearResumeTimer();
    if (this.following || this.resuming) this.lastAck = m.ack; // a restored match's acks restart from its checkpoint
    this.state.reset(m);
    this.emit(first ? "joined" : "snapshot", this);
    if (!first) this.resumedVia(this.following ? "rejoin" : "snapshot");
  }

  private resumedVia(how: "catchup" | "snapshot" | "rejoin"): void {
    const was = this.resuming || this.following;
    this.resuming = false;
    this.following = false;
    this.followCause = undefined;
    this.followAttempt = 0;
    clearTimeout(this.followTimer);
    if (was) this.emit("resumed", { how, epoch: this.state.epoch, tick: this.state.tick, pid: this.pid });
  }

  onDelta(d: DeltaMsg): void {
    if (this.status !== MatchStatus.JOINED) return;
    const fit = this.state.check(d);
    if (fit === "stale") return;
    if (fit === "gap") {
      this.emit("gap", { epoch: d.epoch, tick: d.tick, since: d.since, have: { epoch: this.state.epoch, tick: this.state.tick } });
      this.requestSync();
      return;
    }
    this.state.apply(d);
    if (d.events) for (const e of d.events) this.onEvent(e, false);
    if (d.direct) for (const e of d.direct) this.onEvent(e, true);
    if (d.ack !== null && d.ack > this.lastAck) {
      this.lastAck = d.ack;
      this.emit("ack", d.ack);
    }
    this.emit("delta", d);
  }

  onCatchup(_m: CatchupMsg): void {
    // The DELTAs that follow apply on top of the state at _m.tick; check() verifies each.
    this.syncing = false;
    this.clearResumeTimer();
    this.resumedVia("catchup");
  }

  onEnd(m: EndMsg): void {
    if (this.status !== MatchStatus.JOINED) return;
    if (m.reason === EndReason.MOVED) {
      // A stale copy stopped (its instance lost its lease): the match goes on elsewhere. Leave
      // this instance, resume on another and take the seat back by id.
      this.following = true;
      this.followSince = Date.now();
      this.emit("moved", { url: null, via: "end" });
      this.connection.reconnectElsewhere("END MOVED");
      return;
    }
    this.status = MatchStatus.ENDED;
    this.release();
    this.emit("end", m.reason, m.result);
  }

  onLeft(_m: LeftMsg): void {
    if (this.status !== MatchStatus.JOINED) return;
    this.status = MatchStatus.LEFT;
    this.release();
    this.emit("left", { reason: LeaveReason.LEFT });
  }

  onError(err: TickrelayError): void {
    const op = err.details.refOp;
    if (op === Op.SYNC || op === Op.RESUME) {
      this.syncing = false;
      this.clearResumeTimer();
      // The seat is gone (it expired before the resume, or the match ended): say so and free
      // the connection for another JOIN.
      if ((err.code === ErrorCode.NOT_IN_MATCH || err.code === ErrorCode.MATCH_ENDED) && this.status === MatchStatus.JOINED) {
        this.status = MatchStatus.LEFT;
        this.release();
        this.emit("error", err);
        this.emit("left", { reason: err.code === ErrorCode.NOT_IN_MATCH ? LeaveReason.TIMEOUT : LeaveReason.ENDED, error: err });
        return;
      }
    }
    this.emit("error", err);
  }

  onResumed(_req: number): void {
    // RESUMED is followed by CATCHUP + DELTAs, a JOINED, an ERROR or an END; until then don't
    // SYNC on gaps. Should none come in time, ask again with a SYNC (a request with its own
    // timeout), so a lost answer never leaves the match waiting forever.
    if (this.status !== MatchStatus.JOINED) return;
    if (this.following) {
      // The session's seat was in the stale copy (END MOVED): nothing follows the RESUMED.
      this.rejoin();
      return;
    }
    this.syncing = true;
    this.clearResumeTimer();
    // A session whose copy stopped after a drain closed it (4003) is resumed with no seat, and
    // nothing follows its RESUMED: without an answer soon, take the seat back by id (a session
    // that has it answers ALREADY_JOINED, and its CATCHUP/JOINED still comes).
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = undefined;
      if (this.status !== MatchStatus.JOINED || !this.syncing || this.following) return;
      this.following = true;
      this.followSince = Date.now();
      this.rejoin();
    }, this.resumeAnswerMs);
    const ms = this.connection.requestTimeoutMs;
    if (ms > 0) {
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = undefined;
        if (this.status !== MatchStatus.JOINED || !this.syncing) return;
        this.syncing = false;
        this.requestSync();
      }, ms);
    }
  }

  onRemoved(closeCode: number, text: string): void {
    if (this.status !== MatchStatus.JOINED) return;
    this.status = MatchStatus.LEFT;
    this.release();
    const reason = closeCode === CloseCode.REPLACED ? LeaveReason.REPLACED : LeaveReason.KICKED;
    this.emit("left", { reason, error: new TickrelayError(ErrorCode.NOT_IN_MATCH, text, { closeCode }) });
  }

  onReconnecting(code: number, reason: string, url: string, delay: number, movedTo: string | null): void {
    if (this.status !== MatchStatus.JOINED) return;
    clearTimeout(this.followTimer); // a JOIN retry waits for the new connection instead
    this.resuming = true;
    if (code === CloseCode.MOVED && !this.following) this.emit("moved", { url: movedTo, via: "close" });
    this.emit("reconnecting", { code, reason, url, delay });
  }

  onResumeFailed(err: TickrelayError): boolean {
    if (this.status !== MatchStatus.JOINED || !this.id) return false;
    // The session is gone with its instance; the seat is not: the match (restored elsewhere)
    // keeps it for the reconnect grace. Take it back with a JOIN by id on the new session.
    if (!this.following) this.followSince = Date.now();
    this.following = true;
    this.followCause = err;
    this.emit("error", err);
    this.rejoin();
    return true;
  }

  /** Sends JOIN by id to take the seat back; retries (full jitter) while the match is between owners. */
  private rejoin(): void {
    clearTimeout(this.followTimer);
    const id = this.id;
    this.connection.request((req) => ({ op: Op.JOIN, req, match: id, ticket: null, meta: null }), {
      onReply: () => {
        /* the JOINED reached onJoined */
      },
      onError: (err) => {
        if (this.status !== MatchStatus.JOINED || !this.following) return;
        if (err.code === ErrorCode.ALREADY_JOINED) return; // a JOINED is on its way
        // UNAVAILABLE/TIMEOUT: the match is between owners (its dead owner's lease has not run
        // out yet, or the claim is under way). Anything else (NOT_FOUND: the match is gone with a
        // lone instance; MATCH_ENDED; a refusal) is final.
        const transient = err.code === ErrorCode.UNAVAILABLE || err.code === ErrorCode.TIMEOUT;
        if (err.details.refOp === undefined && err.code === ErrorCode.UNAVAILABLE) return; // the socket went: the reconnect resumes, then JOINs
        if (!transient || Date.now() - this.followSince > this.followTimeoutMs) {
          const cause = this.followCause ?? err;
          this.following = false;
          this.followCause = undefined;
          this.status = err.code === ErrorCode.MATCH_ENDED ? MatchStatus.ENDED : MatchStatus.LEFT;
          this.release();
          this.emit("error", err);
          // The session was lost (RESUME_FAILED) and the seat could not be taken back: `left`
          // carries the loss (the JOIN's refusal came as an `error`).
          this.emit("left", { reason: err.code === ErrorCode.MATCH_ENDED ? LeaveReason.ENDED : 0, error: cause });
          return;
        }
        const delay = fullJitter(this.followAttempt++, this.followBackoff);
        this.followTimer = setTimeout(() => {
          if (this.status === MatchStatus.JOINED && this.following && this.connection.open) this.rejoin();
        }, delay);
      },
    });
  }

  /** The backoff of JOIN retries while following (the connection's options, default 1 s base). */
  followBackoff: { baseMs?: number; maxMs?: number; random?: () => number } = { baseMs: 500, maxMs: 4000 };

  private clearResumeTimer(): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    clearTimeout(this.rejoinTimer);
    this.rejoinTimer = undefined;
  }

  onSessionLost(err: TickrelayError): void {
    if (this.status !== MatchStatus.JOINED && this.status !== MatchStatus.JOINING) return;
    this.status = MatchStatus.LEFT;
    this.release();
    this.emit("error", err);
    this.emit("left", { reason: 0, error: err });
  }

  // ---- internals ----

  private requestSync(): void {
    if (this.syncing) return;
    this.syncing = true;
    const epoch = this.state.epoch;
    const tick = this.state.tick;
    this.connection.request((req) => ({ op: Op.SYNC, req, epoch, tick }), {
      onReply: () => {
        /* CATCHUP/JOINED reach onCatchup/onJoined */
      },
      onError: (err) => {
        // Timed out or refused: the next gap asks again.
        this.syncing = false;
        if (err.code !== ErrorCode.UNAVAILABLE) this.emit("error", err);
      },
    });
  }

  private onEvent(e: MatchEvent, direct: boolean): void {
    this.emit("event", e, direct);
    switch (e.kind) {
      case EventKind.JOIN: {
        const [user, name] = Array.isArray(e.data) ? e.data : [];
        const mem: Member = { user: String(user ?? ""), name: String(name ?? ""), connected: true };
        this.members.set(e.from, mem);
        this.emit("playerJoined", e.from, mem);
        break;
      }
      case EventKind.LEAVE: {
        const reason = typeof e.data === "number" ? e.data : 0;
        const mem = this.members.get(e.from);
        if (reason === LeaveReason.DROPPED) {
          if (mem) mem.connected = false;
        } else this.members.delete(e.from);
        this.emit("playerLeft", e.from, reason, mem);
        if (e.from === this.pid && reason !== LeaveReason.DROPPED && this.status === MatchStatus.JOINED) {
          this.status = MatchStatus.LEFT;
          this.release();
          this.emit("left", { reason });
        }
        break;
      }
      case EventKind.REJOIN: {
        const mem = this.members.get(e.from);
        if (mem) mem.connected = true;
        this.emit("playerRejoined", e.from);
        break;
      }
      case EventKind.MESSAGE:
        this.emit("message", e.from, e.data, direct);
        break;
      case EventKind.GAME: {
        const [name, payload] = Array.isArray(e.data) ? e.data : [String(e.data), null];
        this.emit("gameEvent", String(name), payload);
        break;
      }
      case EventKind.SERVER:
        this.emit("serverEvent", e.data);
        break;
    }
  }

  /** Frees the connection for another match; the last state stays readable. */
  private release(): void {
    this.syncing = false;
    this.resuming = false;
    this.following = false;
    clearTimeout(this.followTimer);
    this.clearResumeTimer();
    if (this.connection.slot === this) this.connection.slot = null;
  }

  private reset(): void {
    this.state.clear();
    this.members.clear();
    this.id = "";
    this.game = "";
    this.pid = 0;
    this.tickRate = 0;
    this.seq = 0;
    this.lastAck = 0;
    this.syncing = false;
  }
}
