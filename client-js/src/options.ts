// Option objects are checked, not trusted: a misplaced or misspelt option (e.g. `WebSocket` at
// the Client's top level instead of `connection: { WebSocket }`) throws at once with the list of
// known ones, instead of being silently ignored.

import { ErrorCode } from "./codes.js";
import { TickrelayError } from "./errors.js";

/** Throws BAD_REQUEST for a key of `opts` not in `known`; `hints` add a word for likely mistakes. */
export function checkOptions(
  opts: object | null | undefined,
  known: readonly string[],
  where: string,
  hints: Record<string, string> = {},
): void {
  if (opts === null || opts === undefined) return;
  if (typeof opts !== "object") throw new TickrelayError(ErrorCode.BAD_REQUEST, `${where}: options must be an object`);
  for (const k of Object.keys(opts)) {
    if (known.includes(k)) continue;
    const hint = hints[k] ? ` (${hints[k]})` : "";
    throw new TickrelayError(ErrorCode.BAD_REQUEST, `${where}: unknown option "${k}"${hint}; known options: ${known.join(", ")}`);
  }
}
