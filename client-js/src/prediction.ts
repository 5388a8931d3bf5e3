// Client-side prediction: keep the inputs the server has not acknowledged yet, and re-apply them
// on top of each authoritative state so your own entity moves at once instead of one round trip
// later.
//
//     const pending = new PendingInputs<[number, number]>();
//     const seq = match.sendInput(dir); if (seq) pending.push(seq, dir);
//     match.on("ack", (seq) => pending.ack(seq));
//     // each frame:
//     const me = pending.replay({ ...match.state.get(match.pid) }, moveBy);

export interface PendingInput<I> {
  seq: number;
  input: I;
}

export class PendingInputs<I> {
  private list: PendingInput<I>[] = [];
  private acked = 0;

  /**
   * @param max most inputs kept: when the server stops acknowledging (a stall, a reconnect),
   *   the oldest are dropped rather than growing without bound. Default 256.
   */
  constructor(private readonly max = 256) {}

  /** Records an input sent with `seq` (seqs increase; 0 means "not sent" and is ignored). */
  push(seq: number, input: I): void {
    if (seq <= this.acked) return;
    this.list.push({ seq, input });
    if (this.list.length > this.max) this.list.splice(0, this.list.length - this.max);
  }

  /** The server applied every input up to `seq`: drops them. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = seq;
    let i = 0;
    while (i < this.list.length && this.list[i]!.seq <= seq) i++;
    if (i > 0) this.list.splice(0, i);
  }

  /** The last acknowledged seq (0 before any). */
  get lastAck(): number {
    return this.acked;
  }

  /** Inputs sent and not acknowledged yet, oldest first. */
  get pending(): readonly PendingInput<I>[] {
    return this.list;
  }

  /**
   * Folds the pending inputs over `state` (the authoritative one) with the game's own step
   * function and returns the predicted state. `apply` may mutate and return its argument.
   */
  replay<S>(state: S, apply: (state: S, input: I) => S): S {
    let s = state;
    for (const p of this.list) s = apply(s, p.input);
    return s;
  }

  /** Forgets everything (after joining another match, where seqs start again from 1). */
  clear(): void {
    this.list = [];
    this.acked = 0;
  }
}
