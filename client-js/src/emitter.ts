/**
 * A tiny typed event emitter. `Events` maps each event name to its argument tuple:
 *
 *     type E = { tick: [n: number]; message: [from: number, data: unknown] };
 *     const em = new Emitter<E>(); const off = em.on("tick", (n) => {}); off();
 *
 * A listener that throws does not stop the others or the caller: its error is rethrown from a
 * microtask, so the SDK's message processing (which emits from inside its frame handler) stays
 * consistent whatever listeners do.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = Record<string, any[]>;
export type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<Events extends EventMap> {
  private listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};

  /** Adds a listener and returns a function that removes it. */
  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    (this.listeners[event] ??= []).push(fn);
    return () => this.off(event, fn);
  }

  /** Adds a listener that runs at most once. */
  once<K extends keyof Events>(event: K, fn: Listener<Events[K]>): () => void {
    const off = this.on(event, ((...args: Events[K]) => {
      off();
      fn(...args);
    }) as Listener<Events[K]>);
    return off;
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): void {
    const list = this.listeners[event];
    if (!list) return;
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  }

  /** Whether anyone listens to `event`. */
  protected has<K extends keyof Events>(event: K): boolean {
    return (this.listeners[event]?.length ?? 0) > 0;
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const list = this.listeners[event];
    if (!list || list.length === 0) return;
    for (const fn of list.slice()) {
      try {
        fn(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
