// The protocol's one code table, mirrored by hand from protocol/testdata/codes.json (the source
// of truth, generated from protocol/codes.go). test/codes.test.ts fails if any name or value here
// differs from that file, so edit both together.

/** Message op codes: the first element of every message. */
export const Op = {
  HELLO: 1,
  JOIN: 2,
  LEAVE: 3,
  INPUT: 4,
  MESSAGE: 5,
  PING: 6,
  RESUME: 7,
  SYNC: 8,
  WELCOME: 32,
  JOINED: 33,
  DELTA: 34,
  EVENT: 35,
  PONG: 36,
  ERROR: 37,
  END: 38,
  LEFT: 39,
  RESUMED: 40,
  CATCHUP: 41,
  RELAY: 42,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

/** Error codes, in ERROR messages and in the HTTP API's JSON errors. */
export const ErrorCode = {
  BAD_REQUEST: 1,
  UNAUTHORIZED: 2,
  FORBIDDEN: 3,
  NOT_FOUND: 4,
  MATCH_FULL: 5,
  JOIN_REFUSED: 6,
  NOT_IN_MATCH: 7,
  ALREADY_JOINED: 8,
  RATE_LIMITED: 9,
  INTERNAL: 10,
  UNKNOWN_OP: 11,
  MALFORMED: 12,
  RESUME_FAILED: 13,
  MATCH_ENDED: 14,
  UNAVAILABLE: 15,
  TOO_LARGE: 16,
  UNSUPPORTED: 17,
  TIMEOUT: 18,
  CONFLICT: 19,
  EXPIRED: 20,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes the server uses (see reconnectable for which ones end a session). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL: 1002,
  UNSUPPORTED: 1003,
  TOO_BIG: 1009,
  SHUTDOWN: 4000,
  SLOW: 4001,
  TIMEOUT: 4002,
  MOVED: 4003,
  AUTH: 4100,
  BAD_FRAMES: 4101,
  RATE_LIMIT: 4102,
  IDLE: 4103,
  REPLACED: 4104,
  KICKED: 4105,
  MATCH_ENDED: 4108,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Event kinds: the first element of an event [kind, from, data]. */
export const EventKind = {
  JOIN: 1,
  LEAVE: 2,
  REJOIN: 3,
  MESSAGE: 4,
  GAME: 5,
  SERVER: 6,
  NOTICE: 7,
  TICKET: 8,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** Why a player left a match (the data of a LEAVE event). */
export const LeaveReason = {
  LEFT: 1,
  DROPPED: 2,
  TIMEOUT: 3,
  KICKED: 4,
  ENDED: 5,
  REPLACED: 6,
} as const;
export type LeaveReason = (typeof LeaveReason)[keyof typeof LeaveReason];

/** Why a match ended (the reason of an END message). */
export const EndReason = {
  FINISHED: 1,
  EMPTY: 2,
  STOPPED: 3,
  ERROR: 4,
  LOST: 5,
  MOVED: 6,
} as const;
export type EndReason = (typeof EndReason)[keyof typeof EndReason];

/** Standard close codes after which the client reconnects and resumes. */
export const RECONNECTABLE_STANDARD: readonly number[] = [1001, 1006, 1011, 1012, 1013, 1014];
/** Inclusive range of application close codes after which the client reconnects and resumes. */
export const RECONNECTABLE_RANGE: readonly [number, number] = [4000, 4099];
/** Inclusive range of application close codes that end the session for good. */
export const TERMINAL_RANGE: readonly [number, number] = [4100, 4999];

/**
 * Whether a connection closed with `code` should be reconnected (and its session resumed):
 * 4000-4099 and the standard 1001, 1006, 1011, 1012, 1013, 1014. Everything else is terminal.
 */
export function reconnectable(code: number): boolean {
  return (
    (code >= RECONNECTABLE_RANGE[0] && code <= RECONNECTABLE_RANGE[1]) ||
    RECONNECTABLE_STANDARD.includes(code)
  );
}

/** The name of `value` in one of the tables above, or "" when unknown: codeName(ErrorCode, 5). */
export function codeName(table: Readonly<Record<string, number>>, value: number): string {
  for (const k in table) if (table[k] === value) return k;
  return "";
}
