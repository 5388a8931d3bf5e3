// Ring: one client's recent inputs and their acks, bench/loadgen/client.go's ring, stamp, onAck
// and finalize in JavaScript, with the same rules: an input's latency is recorded when the first
// ack ≥ its seq arrives, only for inputs sent in the measured window; at the end, inputs of the
// window still unacked are recorded with their age (a lower bound), and those older than the
// ring with the time since the window's end. Times are ms; latencies are recorded in ns.
export const RING = 128;

export class Ring {
  constructor() {
    this.seqs = new Uint32Array(RING);
    this.ts = new Float64Array(RING);
    this.win = new Uint8Array(RING);
    this.winSent = 0;
    this.ackedWin = 0;
    this.lastAck = 0;
    this.final = false;
  }

  // stamp remembers input seq's send time t (inWin: sent in the window).
  stamp(seq, t, inWin) {
    const i = seq % RING;
    this.seqs[i] = seq;
    this.ts[i] = t;
    this.win[i] = inWin ? 1 : 0;
    if (inWin) this.winSent++;
  }

  // ack records into out the latency of every input up to ack not acked before, received at t.
  ack(ack, t, out) {
    if (this.final || ack <= this.lastAck) return;
    let from = this.lastAck + 1;
    if (ack - from >= RING) from = ack - RING + 1;
    for (let s = from; s <= ack; s++) {
      const i = s % RING;
      if (this.seqs[i] !== s) continue;
      if (this.win[i]) {
        out.push(Math.round((t - this.ts[i]) * 1e6));
        this.ackedWin++;
      }
    }
    this.lastAck = ack;
  }

  pending() {
    return this.ackedWin < this.winSent;
  }

  // finalize stops recording and records the window's unacked inputs; it returns how many.
  finalize(t, winEnd, out) {
    this.final = true;
    const unacked = this.winSent - this.ackedWin;
    if (unacked <= 0) return 0;
    let found = 0;
    for (let i = 0; i < RING; i++) {
      const s = this.seqs[i];
      if (s === 0 || s <= this.lastAck) continue;
      if (this.win[i] && found < unacked) {
        out.push(Math.round((t - this.ts[i]) * 1e6));
        found++;
      }
    }
    for (; found < unacked; found++) out.push(Math.round((t - winEnd) * 1e6));
    return unacked;
  }
}
