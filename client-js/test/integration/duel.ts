// Playing the built-in duel game to its end through the SDK, for the integration tests.
import { EndReason, type Match } from "../../src/index.js";

export const TABLE = 1000;
export type Table = { turn: number; round: number; phase: string };
export type Seat = { hand?: number[]; tricks: number };

/** Plays the duel to its end: on your turn, your lowest card. Resolves with the END result. */
export function playToEnd(m: Match): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    const timer = setTimeout(() => reject(new Error(`duel ${m.id} did not end`)), 20_000);
    const step = () => {
      const table = m.state.get(TABLE) as Table | undefined;
      const me = m.state.get(m.pid) as Seat | undefined;
      if (table?.phase !== "playing" || table.turn !== m.pid || !me?.hand?.length) return;
      if (m.lastAck < sent) return; // the last card is not applied yet
      sent = m.sendInput([me.hand[0]]);
    };
    m.on("delta", step);
    m.on("end", (reason, result) => {
      clearTimeout(timer);
      if (reason !== EndReason.FINISHED) reject(new Error(`duel ${m.id} ended with reason ${reason}`));
      else resolve(result);
    });
    step();
  });
}
