import { ErrorCode, codeName } from "./codes.js";

/**
 * An error from the server (an ERROR message or an HTTP API error) or from the SDK itself.
 * `code` is from the protocol's error table (ErrorCode); `status` is the HTTP status for API
 * errors; `refOp`/`refId` name the message an ERROR answers.
 */
export class TickrelayError extends Error {
  override name = "TickrelayError";
  /** ErrorCode name, e.g. "MATCH_FULL" ("" when the code is unknown). */
  readonly codeName: string;

  constructor(
    readonly code: number,
    message: string,
    readonly details: { status?: number; refOp?: number; refId?: number; closeCode?: number } = {},
  ) {
    super(message);
    this.codeName = codeName(ErrorCode, code);
  }
}

/** The wire bytes broke the protocol (or the decoder's limits). */
export class DecodeError extends TickrelayError {
  override name = "DecodeError";
  constructor(message: string) {
    super(ErrorCode.MALFORMED, message);
  }
}
