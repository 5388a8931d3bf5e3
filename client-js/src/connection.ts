// One WebSocket session with a tickrelay server: connect, WELCOME, requests and their replies,
// ping, and automatic reconnect with full-jitter backoff that RESUMEs the session (and its seat
// in a match) transparently.
//
// Everything runs on the caller's event loop; messages are handled synchronously in the order
// they arrive, so a JOINED is applied before the DELTAs that follow it even when several frames
// are delivered in one task.

import { Backoff, type BackoffOptions } from "./backoff.js";
import { CloseCode, ErrorCode, EventKind, Op, codeName, reconnectable } from "./codes.js";
import {
  type CatchupMsg,
  type ClientMessage,
  type DecodeLimits,
  type DeltaMsg,
  type EndMsg,
  type ErrorMsg,
  type EventMsg,
  type JoinedMsg,
  type LeftMsg,
  type ServerMessage,
  ServerDecoder,
  type WelcomeMsg,
  encodeClient,
} from "./codec.js";
import { Emitter } from "./emitter.js";
import { TickrelayError } from "./errors.js";
import { checkOptions } from "./options.js";
import { checkWsUrl, movedUrl, pickUrl } from "./urls.js";

/** The WebSocket subprotocol of this protocol version. */
export const SUBPROTOCOL = "tickrelay.v1";
/** What HELLO reports as the client. */
export const CLIENT_NAME = "tickrelay-js/0.1.0";

/** The part of the WebSocket API the SDK uses: the browser's, or Node's `ws` package. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onopen: ((ev: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onmessage: ((ev: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onclose: ((ev: any) => void) | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  onerror: ((ev: any) => void) | null;
}
export type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Connection states. */
export const ConnectionState = {
  /** connect() not called yet. */
  DISCONNECTED: "disconnected",
  /** First connection under way (until WELCOME). */
  CONNECTING: "connecting",
  /** WELCOMEd (or RESUMEd); requests flow. */
  CONNECTED: "connected",
  /** Lost with a reconnectable code: waiting out the backoff or reconnecting, then RESUME. */
  RECONNECTING: "reconnecting",
  /** Closed for good: close() was called, or a terminal close code (see `code`). */
  CLOSED: "closed",
} as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/**
 * A state change. `code` is the WebSocket close code behind a RECONNECTING or CLOSED state
 * (CloseCode, or 1006 when the socket failed; 1000 after close()), 0 otherwise; `reason` says
 * what happened in words ("welcome", "resumed", "resume failed: …", "close 4000 SHUTDOWN", …).
 */
export interface StateChange {
  state: ConnectionState;
  prev: ConnectionState;
  code: number;
  reason: string;
}

export interface Session {
  /** Session id (kept across a successful resume). */
  id: string;
  resumeToken: string;
  /** The authenticated user (player id). */
  user: string;
  /** How long the server keeps a dropped session, ms. */
  resumeWindow: number;
}

export interface PingResult {
  /** Round-trip time, ms. */
  rtt: number;
  /** Server clock minus local clock (Date.now()), ms, assuming a symmetric path. */
  offset: number;
  /** The server's clock when it answered (Unix ms). */
  serverTime: number;
}

export type ConnectionEvents = {
  state: [change: StateChange];
  /** A WELCOME arrived (new session on this socket, before any resume). */
  welcome: [msg: WelcomeMsg];
  /** The old session was taken over after a reconnect. */
  resumed: [session: Session];
  /** The old session could not be resumed; the connection goes on with a new one. */
  resumeFailed: [err: TickrelayError];
  /** A session-level EVENT (e.g. NOTICE [code, text] when the server drains). */
  event: [msg: EventMsg];
  /** Errors not tied to a request or a match (malformed frames, unexpected ERRORs). */
  error: [err: TickrelayError];
};

export interface ConnectionOptions {
  /** WebSocket URL, e.g. "ws://127.0.0.1:8080/ws" (a reservation's `address`). */
  url: string;
  /**
   * WebSocket URLs of the other instances of a cluster. After a lost connection (1006, 4000
   * SHUTDOWN, …) or an END MOVED the SDK reconnects to a random one of `url` and these (another
   * than the one just lost, when there is one); after a close 4003 MOVED to the URL its reason
   * names (http(s)/ws(s) only, else one of these). Default none: always `url`.
   */
  urls?: string[];
  /**
   * Session token, sent as the `token` query parameter (works in browsers and Node), or a
   * function called before every (re)connect, e.g. to refresh an expiring token.
   */
  token?: string | null | (() => string | null | Promise<string | null>);
  /** WebSocket constructor; default globalThis.WebSocket (Node 20 has none: pass `ws`). */
  WebSocket?: WebSocketCtor;
  /** Reconnect after a reconnectable close. Default true. */
  reconnect?: boolean;
  /** Give up after this many reconnects in a row without a WELCOME. Default Infinity. */
  maxReconnectAttempts?: number;
  backoff?: BackoffOptions;
  /** How long a request waits for its reply, ms. Default 10000. */
  requestTimeoutMs?: number;
  /** PING every this many ms while connected (0: never). Default 5000. */
  pingIntervalMs?: number;
  /** Drop and reconnect when nothing arrived for this long, ms (0: never). Default 20000. */
  idleTimeoutMs?: number;
  /** Drop and reconnect when WELCOME does not come within this long, ms. Default 10000. */
  welcomeTimeoutMs?: number;
  /** Decoder limits for server frames. */
  limits?: DecodeLimits;
}

/** Every ConnectionOptions key (checked at compile time against the interface). */
export const CONNECTION_OPTIONS = [
  "url",
  "urls",
  "token",
  "WebSocket",
  "reconnect",
  "maxReconnectAttempts",
  "backoff",
  "requestTimeoutMs",
  "pingIntervalMs",
  "idleTimeoutMs",
  "welcomeTimeoutMs",
  "limits",
] as const satisfies readonly (keyof ConnectionOptions)[];
// A new ConnectionOptions field must be listed above, or this line stops compiling.
const allConnectionOptions: Exclude<keyof ConnectionOptions, (typeof CONNECTION_OPTIONS)[number]> extends never ? true : never = true;
void allConnectionOptions;

/** What the connection needs from the match it carries (see Match). */
export interface MatchSlot {
  /** Epoch and tick of the last applied state, for RESUME. */
  resumePoint(): { epoch: number; tick: number };
  onJoined(m: JoinedMsg): void;
  onDelta(m: DeltaMsg): void;
  onCatchup(m: CatchupMsg): void;
  onEnd(m: EndMsg): void;
  onLeft(m: LeftMsg): void;
  /** An ERROR about INPUT, MESSAGE or another match message without a pending request. */
  onError(err: TickrelayError): void;
  /** The session was resumed: a CATCHUP or JOINED follows. */
  onResumed(req: number): void;
  /** The session is gone (closed for good or not resumable): the seat with it. */
  onSessionLost(err: TickrelayError): void;
  /** A NOTICE said the seat was taken away (KICKED, or REPLACED by another connection of yours). */
  onRemoved(closeCode: number, text: string): void;
  /**
   * The socket was lost with a reconnectable code; the next attempt goes to `url` in `delay` ms.
   * `movedTo` is the validated URL of a close 4003 MOVED (null otherwise).
   */
  onReconnecting?(code: number, reason: string, url: string, delay: number, movedTo: string | null): void;
  /**
   * RESUME failed (the session is gone, e.g. its instance died): return true to keep the slot
   * (the match follows itself with a JOIN by id on the new session), false to lose it.
   */
  onResumeFailed?(err: TickrelayError): boolean;
}

interface Pending {
  op: number;
  onReply(m: ServerMessage): void;
  onError(err: TickrelayError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface RequestHandlers {
  onReply(m: ServerMessage): void;
  onError(err: TickrelayError): void;
}

export class Connection extends Emitter<ConnectionEvents> {
  state: ConnectionState = ConnectionState.DISCONNECTED;
  /** The current session, once WELCOMEd. */
  session: Session | null = null;
  /** Last measured round-trip time, ms (NaN before the first PONG). */
  rtt = NaN;
  /** Last measured server clock offset, ms (server minus local; NaN before the first PONG). */
  clockOffset = NaN;
  /** The close code of the last close (0 if none). */
  closeCode = 0;
  /**
   * Why the connection closed for good, in words ("" while open). After CLOSED with code 4100
   * (CloseCode.AUTH) it is the server's reason, e.g. "close 4100 AUTH: session token refused
   * (invalid token: bad signature): get a new one": get a new token and connect again.
   */
  closeReason = "";

  /** The WebSocket URL (without the token) of the current or next attempt. */
  url: string;
  /** Every configured WebSocket URL: `url` first, then `urls`. */
  readonly urls: readonly string[];

  /** The match this connection carries, set by Match.join. */
  slot: MatchSlot | null = null;

  private readonly opts: ConnectionOptions;

  /** How long a request waits for its answer (requestTimeoutMs, default 10 s; 0: forever). */
  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 10_000;
  }
  private readonly decoder: ServerDecoder;
  private readonly backoff: Backoff;
  private ws: WebSocketLike | null = null;
  private gen = 0;
  private nextReq = 0;
  private pending = new Map<number, Pending>();
  private pings = new Map<number, { wall: number; resolve(r: PingResult): void; reject(e: Error): void }>();
  private waiters: { resolve(): void; reject(e: Error): void }[] = [];
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private welcomeTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastRecv = 0;
  private welcomed = false;
  /** URLs lost or failed since the last successful connect (the next attempt avoids them). */
  private failedUrls: string[] = [];

  constructor(opts: ConnectionOptions) {
    super();
    checkOptions(opts, CONNECTION_OPTIONS, "Connection");
    this.opts = opts;
    this.url = opts.url;
    const urls = [opts.url];
    for (const u of opts.urls ?? []) {
      try {
        checkWsUrl(u);
      } catch (err) {
        throw new TickrelayError(ErrorCode.BAD_REQUEST, `Connection: urls: ${(err as Error).message}`);
      }
      if (!urls.includes(u)) urls.push(u);
    }
    this.urls = urls;
    this.decoder = new ServerDecoder(opts.limits);
    this.backoff = new Backoff(opts.backoff);
  }

  /** Opens the connection; resolves once WELCOMEd, rejects if it closes for good first. */
  connect(): Promise<void> {
    if (this.state === ConnectionState.DISCONNECTED || this.state === ConnectionState.CLOSED) {
      this.session = null;
      this.closeReason = "";
      this.backoff.reset();
      this.setState(ConnectionState.CONNECTING, 0, "connect");
      void this.openSocket();
    }
    return this.ready();
  }

  /** Resolves when connected (now, or after the current (re)connect); rejects if closed first. */
  ready(): Promise<void> {
    if (this.state === ConnectionState.CONNECTED) return Promise.resolve();
    if (this.state === ConnectionState.CLOSED || this.state === ConnectionState.DISCONNECTED) {
      return Promise.reject(this.closedError());
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Closes for good (code 1000). Pending requests fail; a match in progress is left behind. */
  close(): void {
    if (this.state === ConnectionState.CLOSED || this.state === ConnectionState.DISCONNECTED) return;
    const ws = this.detach();
    try {
      ws?.close(CloseCode.NORMAL, "bye");
    } catch {
      /* already closing */
    }
    this.finish(CloseCode.NORMAL, "closed by client");
  }

  /** Whether a message can be sent right now. */
  get open(): boolean {
    return this.state === ConnectionState.CONNECTED && this.ws !== null && this.ws.readyState === 1;
  }

  /** Sends one message if connected; returns whether it was handed to the socket. */
  send(m: ClientMessage): boolean {
    if (!this.open) return false;
    this.ws!.send(encodeClient(m));
    return true;
  }

  /**
   * Sends a request built with a fresh `req` once connected, and routes its reply (a message
   * carrying that req) or its ERROR to `h`. Handlers run synchronously inside the frame handler.
   * Fails with UNAVAILABLE if the socket drops before the reply, TIMEOUT after requestTimeoutMs.
   */
  request(build: (req: number) => ClientMessage, h: RequestHandlers): void {
    if (this.open) {
      this.sendRequest(build, h);
      return;
    }
    this.ready().then(
      () => this.sendRequest(build, h),
      (err: TickrelayError) => h.onError(err),
    );
  }

  /** Promise form of request(): resolves with the reply. */
  call(build: (req: number) => ClientMessage): Promise<ServerMessage> {
    return new Promise((resolve, reject) => this.request(build, { onReply: resolve, onError: reject }));
  }

  /** Measures round-trip time and clock offset with a PING. */
  ping(timeoutMs = this.opts.requestTimeoutMs ?? 10_000): Promise<PingResult> {
    if (!this.open) return Promise.reject(new TickrelayError(ErrorCode.UNAVAILABLE, "not connected"));
    let t = Math.round(now() * 1000); // µs of a monotonic clock: exact as a msgpack int
    while (this.pings.has(t)) t++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(t);
        reject(new TickrelayError(ErrorCode.TIMEOUT, "no PONG"));
      }, timeoutMs);
      this.pings.set(t, {
        wall: Date.now(),
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send({ op: Op.PING, t });
    });
  }

  /**
   * Sends HELLO with a fresh session token (for a long-lived connection whose token expires);
   * resolves with the WELCOME that answers it.
   */
  hello(token: string | null): Promise<WelcomeMsg> {
    return this.call((req) => ({ op: Op.HELLO, req, token, client: CLIENT_NAME })) as Promise<WelcomeMsg>;
  }

  // ---- socket lifecycle ----

  private async openSocket(): Promise<void> {
    const gen = ++this.gen;
    let token: string | null | undefined;
    try {
      const t = this.opts.token;
      token = typeof t === "function" ? await t() : t;
    } catch (err) {
      if (gen === this.gen) this.lost(1006, `token: ${(err as Error).message}`);
      return;
    }
    if (gen !== this.gen || this.state === ConnectionState.CLOSED) return;
    const Ctor = this.opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    if (!Ctor) {
      this.finish(1006, "no WebSocket: pass the `WebSocket` option (e.g. from the ws package)");
      return;
    }
    let url = this.url;
    if (token) url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
    let ws: WebSocketLike;
    try {
      ws = new Ctor(url, SUBPROTOCOL);
    } catch (err) {
      this.lost(1006, `WebSocket: ${(err as Error).message}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.welcomed = false;
    this.lastRecv = Date.now();
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.ws === ws) this.onFrame(ev.data);
    };
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (this.ws !== ws) return;
      this.detach();
      this.lost(ev.code ?? 1006, ev.reason ?? "");
    };
    ws.onerror = () => {
      /* a close event follows */
    };
    const wt = this.opts.welcomeTimeoutMs ?? 10_000;
    if (wt > 0) {
      this.welcomeTimer = setTimeout(() => {
        if (this.ws === ws && !this.welcomed) this.drop(CloseCode.TIMEOUT, "no WELCOME");
      }, wt);
    }
  }

  /** Stops listening to the current socket and returns it. */
  private detach(): WebSocketLike | null {
    const ws = this.ws;
    this.ws = null;
    this.gen++;
    clearTimeout(this.welcomeTimer);
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    if (ws) ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
    return ws;
  }

  /**
   * Leaves the current instance: closes the socket and reconnects (full-jitter backoff) to
   * another configured URL, then RESUMEs. A Match calls it on END MOVED (its copy on this
   * instance was stale).
   */
  reconnectElsewhere(why: string): void {
    if (this.state !== ConnectionState.CONNECTED && this.state !== ConnectionState.CONNECTING) return;
    this.drop(CloseCode.MOVED, why);
  }

  /** Abandons the current socket (closing it with `code`) and handles it as lost. */
  private drop(code: number, reason: string): void {
    const ws = this.detach();
    try {
      ws?.close(code, reason);
    } catch {
      /* ignore */
    }
    this.lost(code, reason);
  }

  /** The socket is gone: reconnect if the code allows, otherwise close for good. */
  private lost(code: number, reason: string): void {
    this.closeCode = code;
    const why = describeClose(code, reason);
    this.failInFlight(new TickrelayError(ErrorCode.UNAVAILABLE, `connection lost (${why})`, { closeCode: code }));
    const max = this.opts.maxReconnectAttempts ?? Infinity;
    if ((this.opts.reconnect ?? true) && reconnectable(code) && this.backoff.attempts < max) {
      const delay = this.backoff.next();
      const movedTo = code === CloseCode.MOVED ? movedUrl(reason, this.opts.url) : null;
      // The instance just lost goes first in the list to avoid; instances that failed since the
      // last successful connect stay in it (until every configured one has failed).
      this.failedUrls = [this.url, ...this.failedUrls.filter((u) => u !== this.url)];
      if (this.failedUrls.length >= this.urls.length) this.failedUrls = [this.url];
      this.url = movedTo ?? pickUrl(this.urls, this.failedUrls, this.opts.backoff?.random);
      this.setState(ConnectionState.RECONNECTING, code, why);
      this.slot?.onReconnecting?.(code, why, this.url, delay, movedTo);
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => {
        if (this.state === ConnectionState.RECONNECTING) void this.openSocket();
      }, delay);
      return;
    }
    this.finish(code, why);
  }

  private finish(code: number, reason: string): void {
    clearTimeout(this.reconnectTimer);
    this.closeCode = code;
    this.closeReason = reason;
    const err = new TickrelayError(ErrorCode.UNAVAILABLE, `connection closed (${reason})`, { closeCode: code });
    this.failInFlight(err);
    this.setState(ConnectionState.CLOSED, code, reason);
    for (const w of this.waiters.splice(0)) w.reject(err);
    const slot = this.slot;
    this.slot = null;
    slot?.onSessionLost(err);
  }

  private failInFlight(err: TickrelayError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.onError(err);
    }
    for (const p of [...this.pings.values()]) p.reject(err);
    this.pings.clear();
  }

  private closedError(): TickrelayError {
    return new TickrelayError(ErrorCode.UNAVAILABLE, "not connected", { closeCode: this.closeCode });
  }

  private setState(state: ConnectionState, code: number, reason: string): void {
    const prev = this.state;
    if (prev === state && state !== ConnectionState.RECONNECTING) return;
    this.state = state;
    this.emit("state", { state, prev, code, reason });
  }

  private becomeConnected(reason: string): void {
    this.backoff.reset();
    this.failedUrls = [];
    this.closeCode = 0;
    this.setState(ConnectionState.CONNECTED, 0, reason);
    const interval = this.opts.pingIntervalMs ?? 5000;
    const idle = this.opts.idleTimeoutMs ?? 20_000;
    const every = Math.min(interval || Infinity, idle ? idle / 2 : Infinity);
    if (Number.isFinite(every)) {
      let sinceLastPing = 0;
      this.heartbeat = setInterval(() => {
        if (idle && Date.now() - this.lastRecv > idle) {
          this.drop(CloseCode.TIMEOUT, "nothing received");
          return;
        }
        sinceLastPing += every;
        if (interval && sinceLastPing >= interval) {
          sinceLastPing = 0;
          this.ping().then(
            () => {},
            () => {},
          );
        }
      }, every);
    }
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private sendRequest(build: (req: number) => ClientMessage, h: RequestHandlers): void {
    if (!this.open) {
      // Dropped again between ready() and now: wait for the next connection.
      this.request(build, h);
      return;
    }
    this.nextReq = this.nextReq >= 0xffffffff ? 1 : this.nextReq + 1;
    const req = this.nextReq;
    const m = build(req);
    this.addPending(req, m.op, h);
    this.send(m);
  }

  private addPending(req: number, op: number, h: RequestHandlers): void {
    const timeout = this.opts.requestTimeoutMs ?? 10_000;
    const timer =
      timeout > 0
        ? setTimeout(() => {
            if (this.pending.get(req)?.timer !== timer) return;
            this.pending.delete(req);
            h.onError(new TickrelayError(ErrorCode.TIMEOUT, `no reply to op ${op} req ${req}`, { refOp: op, refId: req }));
          }, timeout)
        : undefined;
    this.pending.set(req, { op, onReply: h.onReply, onError: h.onError, timer });
  }

  /** Settles the request `req` with reply `m`, if one waits. */
  private settle(req: number, m: ServerMessage): void {
    const p = this.pending.get(req);
    if (!p) return;
    this.pending.delete(req);
    clearTimeout(p.timer);
    p.onReply(m);
  }

  // ---- incoming ----

  private onFrame(data: unknown): void {
    this.lastRecv = Date.now();
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else {
      this.emit("error", new TickrelayError(ErrorCode.UNSUPPORTED, "text frame from the server ignored"));
      return;
    }
    let m: ServerMessage | null;
    try {
      m = this.decoder.decode(bytes);
    } catch (err) {
      // A broken DELTA shows up as a gap at the next one, which the match repairs with SYNC.
      this.emit("error", err as TickrelayError);
      return;
    }
    if (m) this.dispatch(m);
  }

  private dispatch(m: ServerMessage): void {
    const slot = this.slot;
    switch (m.op) {
      case Op.WELCOME:
        this.onWelcome(m);
        return;
      case Op.RESUMED:
        this.settle(m.req, m);
        return;
      case Op.PONG: {
        const p = this.pings.get(m.t);
        if (!p) return;
        this.pings.delete(m.t);
        const rtt = Math.max(0, now() - m.t / 1000);
        this.rtt = rtt;
        this.clockOffset = m.serverTime - (p.wall + rtt / 2);
        p.resolve({ rtt, offset: this.clockOffset, serverTime: m.serverTime });
        return;
      }
      case Op.ERROR:
        this.onError(m);
        return;
      case Op.EVENT:
        this.emit("event", m);
        if (slot && isNotice(m) && (m.data[0] === CloseCode.KICKED || m.data[0] === CloseCode.REPLACED)) {
          slot.onRemoved(m.data[0], String(m.data[1]));
        }
        return;
      case Op.JOINED:
        slot?.onJoined(m);
        this.settle(m.req, m);
        return;
      case Op.CATCHUP:
        slot?.onCatchup(m);
        this.settle(m.req, m);
        return;
      case Op.DELTA:
        slot?.onDelta(m);
        return;
      case Op.END:
        slot?.onEnd(m);
        return;
      case Op.LEFT:
        slot?.onLeft(m);
        this.settle(m.req, m);
        return;
      case Op.RELAY:
        return; // server to server only
    }
  }

  private onError(m: ErrorMsg): void {
    const err = new TickrelayError(m.code, m.message, { refOp: m.refOp, refId: m.refId });
    const p = this.pending.get(m.refId);
    if (p && p.op === m.refOp) {
      this.pending.delete(m.refId);
      clearTimeout(p.timer);
      p.onError(err);
      return;
    }
    // RESUME too: after RESUMED, the match's answer may be an ERROR (the seat expired).
    if (this.slot && (m.refOp === Op.INPUT || m.refOp === Op.MESSAGE || m.refOp === Op.SYNC || m.refOp === Op.RESUME)) {
      this.slot.onError(err);
      return;
    }
    this.emit("error", err);
  }

  private onWelcome(m: WelcomeMsg): void {
    if (this.welcomed) {
      // The answer to a HELLO: same socket, refreshed session details.
      if (this.session) this.session = { ...this.session, resumeToken: m.resumeToken, user: m.user, resumeWindow: m.resumeWindow };
      for (const [req, p] of this.pending) {
        if (p.op === Op.HELLO) {
          this.settle(req, m);
          break;
        }
      }
      this.emit("welcome", m);
      return;
    }
    this.welcomed = true;
    clearTimeout(this.welcomeTimer);
    const fresh: Session = { id: m.session, resumeToken: m.resumeToken, user: m.user, resumeWindow: m.resumeWindow };
    this.emit("welcome", m);
    const old = this.session;
    if (!old) {
      this.session = fresh;
      this.becomeConnected("welcome");
      return;
    }
    // A reconnect: take the old session (and its seat) over.
    const point = this.slot?.resumePoint() ?? { epoch: 0, tick: 0 };
    this.nextReq = this.nextReq >= 0xffffffff ? 1 : this.nextReq + 1;
    const req = this.nextReq;
    this.addPending(req, Op.RESUME, {
      onReply: (r) => {
        if (r.op !== Op.RESUMED) return;
        this.session = { ...fresh, id: r.session, resumeToken: r.resumeToken };
        this.becomeConnected("resumed");
        this.emit("resumed", this.session);
        this.slot?.onResumed(req);
      },
      onError: (err) => {
        if (err.code === ErrorCode.UNAVAILABLE || err.code === ErrorCode.TIMEOUT) {
          // The socket went away (or hangs) mid-resume, or this instance cannot resume now (it
          // answered UNAVAILABLE/TIMEOUT): try again on a new socket, after the backoff.
          if (this.ws) this.drop(CloseCode.TIMEOUT, err.code === ErrorCode.TIMEOUT ? "no RESUMED" : `resume: ${err.message}`);
          return;
        }
        this.session = fresh;
        const lost = new TickrelayError(ErrorCode.RESUME_FAILED, `resume failed: ${err.message}`, err.details);
        const slot = this.slot;
        if (!slot?.onResumeFailed?.(lost)) {
          this.slot = null;
          slot?.onSessionLost(lost);
        }
        this.becomeConnected(`resume failed: ${err.message}`);
        this.emit("resumeFailed", lost);
      },
    });
    this.ws?.send(
      encodeClient({ op: Op.RESUME, req, session: old.id, resumeToken: old.resumeToken, epoch: point.epoch, tick: point.tick }),
    );
  }
}

function describeClose(code: number, reason: string): string {
  const name = codeName(CloseCode, code) || (code === 1006 ? "ABNORMAL" : "");
  return `close ${code}${name ? " " + name : ""}${reason ? ": " + reason : ""}`;
}

function now(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/** Whether an EVENT is a NOTICE ([code, text]), e.g. the server draining before a restart. */
export function isNotice(m: EventMsg): m is EventMsg & { data: [number, string] } {
  return m.kind === EventKind.NOTICE && Array.isArray(m.data);
}
