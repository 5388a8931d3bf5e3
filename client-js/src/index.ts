// @tickrelay/client: the TypeScript SDK of tickrelay. See README.md.

export {
  Op,
  ErrorCode,
  CloseCode,
  EventKind,
  LeaveReason,
  EndReason,
  RECONNECTABLE_STANDARD,
  RECONNECTABLE_RANGE,
  TERMINAL_RANGE,
  reconnectable,
  codeName,
} from "./codes.js";
export {
  encodeClient,
  clientArray,
  decodeServer,
  serverMessage,
  validate,
  ServerDecoder,
  DEFAULT_LIMITS,
  MAX_DEPTH,
} from "./codec.js";
export type {
  FieldMap,
  EntityMap,
  PrivateMap,
  Member,
  MatchEvent,
  Changes,
  ClientMessage,
  HelloMsg,
  JoinMsg,
  LeaveMsg,
  InputMsg,
  MessageMsg,
  PingMsg,
  ResumeMsg,
  SyncMsg,
  ServerMessage,
  WelcomeMsg,
  JoinedMsg,
  DeltaMsg,
  EventMsg,
  PongMsg,
  ErrorMsg,
  EndMsg,
  LeftMsg,
  ResumedMsg,
  CatchupMsg,
  RelayMsg,
  DecodeLimits,
} from "./codec.js";
export { TickrelayError, DecodeError } from "./errors.js";
export { Emitter } from "./emitter.js";
export type { EventMap, Listener } from "./emitter.js";
export { Backoff, fullJitter } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { StateMirror } from "./state.js";
export type { Fields, MirrorSink, DeltaFit } from "./state.js";
export { PendingInputs } from "./prediction.js";
export type { PendingInput } from "./prediction.js";
export { Connection, ConnectionState, SUBPROTOCOL, CLIENT_NAME, isNotice } from "./connection.js";
export type {
  ConnectionOptions,
  ConnectionEvents,
  StateChange,
  Session,
  PingResult,
  WebSocketLike,
  WebSocketCtor,
  MatchSlot,
  RequestHandlers,
} from "./connection.js";
export { Match, MatchStatus } from "./match.js";
export type { MatchEvents, JoinOptions, MessageOptions, LeftInfo } from "./match.js";
export { Client } from "./client.js";
export type {
  ClientOptions,
  GuestAuth,
  MatchInfo,
  MatchMember,
  Reservation,
  CreateMatchRequest,
  ListMatchesFilter,
} from "./client.js";
export {
  matchmake,
  followParty,
  createTicket,
  getTicket,
  cancelTicket,
  listQueues,
  createParty,
  joinParty,
  getParty,
  leaveParty,
} from "./matchmaking.js";
export type {
  Ticket,
  TicketStatus,
  TicketReservation,
  Party,
  PartyMember,
  QueueInfo,
  MatchmakeOptions,
  MatchmakeProgress,
  FollowOptions,
} from "./matchmaking.js";
