// Helpers shared by the integration tests: waiting for a condition or an event (bounded, never
// a fixed sleep), and a WebSocket wrapper that lets a test cut the network, hold reconnects, and
// lose frames, as a bad network would.
import { WebSocket } from "ws";
import type { Emitter, EventMap, WebSocketCtor, WebSocketLike } from "../../src/index.js";

/** Resolves when `cond()` holds (checked every 10 ms); rejects after `timeoutMs`. */
export function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      let ok = false;
      try {
        ok = cond();
      } catch {
        ok = false;
      }
      if (ok) return resolve();
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

/**
 * Resolves with the arguments of the next `name` event of `em` for which `pred` holds; rejects
 * after `timeoutMs`. Attach it before doing what causes the event.
 */
export function nextEvent<E extends EventMap, K extends keyof E & string>(
  em: Emitter<E>,
  name: K,
  what: string,
  pred: (...args: E[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<E[K]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const off = em.on(name, ((...args: E[K]) => {
      if (!pred(...args)) return;
      clearTimeout(t);
      off();
      resolve(args);
    }) as never);
  });
}

/** The op of a server frame (every server message is a fixarray whose first element is the op). */
export function opOf(b: Uint8Array): number {
  return (b[0]! & 0xf0) === 0x90 ? b[1]! : -1;
}

export interface ControlledSocket extends WebSocketLike {
  /** Ops of the server frames this socket received, in order (dropped ones included). */
  readonly ops: number[];
  /** The server frames themselves, when the control's `record` is set. */
  readonly frames: Uint8Array[];
  /** Cuts the TCP connection at once, without a close frame: the client sees 1006. */
  kill(): void;
}

/**
 * A WebSocket constructor (for ConnectionOptions.WebSocket) over the `ws` package, with knobs:
 * `hold()` makes new sockets wait before connecting until `release()`; `dropNext(op)` loses the
 * next server frame with that op on its way to the SDK.
 */
export class SocketControl {
  readonly sockets: ControlledSocket[] = [];
  dropped = 0;
  /** Keep every server frame in `frames` (off by default). */
  record = false;
  private held: (() => void)[] | null = null;
  private drop: number | null = null;

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const h = this.held ?? [];
    this.held = null;
    for (const start of h) start();
  }

  dropNext(op: number): void {
    this.drop = op;
  }

  get last(): ControlledSocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error("no socket yet");
    return s;
  }

  readonly ctor: WebSocketCtor = (() => {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const ctl = this;
    return class Controlled implements ControlledSocket {
      readonly ops: number[] = [];
      readonly frames: Uint8Array[] = [];
      onopen: ((ev: unknown) => void) | null = null;
      onmessage: ((ev: { data: unknown }) => void) | null = null;
      onclose: ((ev: unknown) => void) | null = null;
      onerror: ((ev: unknown) => void) | null = null;
      private inner: WebSocket | null = null;
      private type = "arraybuffer";
      private closed = false;

      constructor(url: string, protocols?: string | string[]) {
        ctl.sockets.push(this);
        const start = () => {
          if (this.closed) return;
          const ws = new WebSocket(url, protocols);
          ws.binaryType = this.type as "arraybuffer";
          this.inner = ws;
          ws.onopen = (e) => this.onopen?.(e);
          ws.onclose = (e) => this.onclose?.(e);
          ws.onerror = (e) => this.onerror?.(e);
          ws.onmessage = (e) => {
            const b = new Uint8Array(e.data as ArrayBuffer);
            const op = opOf(b);
            this.ops.push(op);
            if (ctl.record) this.frames.push(b.slice());
            if (ctl.drop !== null && op === ctl.drop) {
              ctl.drop = null;
              ctl.dropped++;
              return;
            }
            this.onmessage?.(e);
          };
        };
        if (ctl.held) ctl.held.push(start);
        else start();
      }
      get binaryType(): string {
        return this.type;
      }
      set binaryType(v: string) {
        this.type = v;
        if (this.inner) this.inner.binaryType = v as "arraybuffer";
      }
      get readyState(): number {
        if (this.inner) return this.inner.readyState;
        return this.closed ? 3 : 0;
      }
      send(d: Uint8Array): void {
        this.inner?.send(d);
      }
      close(code?: number, reason?: string): void {
        this.closed = true;
        this.inner?.close(code, reason);
      }
      kill(): void {
        this.inner?.terminate();
      }
    };
  })();
}

/** Entities of a mirror as a plain sorted object, for toEqual across mirrors. */
export function snapshotOf(entities: Map<number, Record<string, unknown>>): Record<number, Record<string, unknown>> {
  const out: Record<number, Record<string, unknown>> = {};
  for (const id of [...entities.keys()].sort((a, b) => a - b)) out[id] = { ...entities.get(id) };
  return out;
}

/** Members of a match as a plain object (pid → {user, name, connected}). */
export function membersOf(members: Map<number, { user: string; name: string; connected: boolean }>): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const pid of [...members.keys()].sort((a, b) => a - b)) out[pid] = { ...members.get(pid) };
  return out;
}
