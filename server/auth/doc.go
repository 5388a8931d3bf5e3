// Package auth issues and verifies tickrelay's HS256 JWTs: session tokens (aud "session") that
// identify a player to the HTTP API and the WebSocket endpoint, and single-use join tickets
// (aud "join") that bind a player to a seat reservation in one match.
//
// # Token shapes
//
// Session token: {"iss", "aud": "session", "sub": player id, "name", "exp", "iat", "jti"}.
// Tokens minted by an operator's backend with the shared secret are accepted too; for them
// "iat", "jti" and "name" are optional, "iss", "aud", "sub" and "exp" are required.
//
// Join ticket: {"iss", "aud": "join", "sub": player id, "match": match id, "seat": integer,
// "exp", "iat", "jti"}. "jti" is required: it is what makes the ticket single-use.
//
// # Verification
//
// Every failure wraps [ErrInvalidToken] and carries a short, fixed reason ("expired",
// "bad signature", "wrong audience", ...) in its message. Error messages never contain the
// token or attacker-chosen claim values, so they are safe to log; the token itself must never
// be logged. The checks, in order:
//
//   - length: a token longer than Config.MaxTokenLen is refused before anything is decoded;
//   - shape: three non-empty base64url segments (no padding, no whitespace, no "Bearer ");
//   - header: alg must be exactly "HS256" (so "none", HS384/HS512 with the same secret, RS256
//     and look-alikes such as "HS256 " are refused); a "crit" header is refused;
//   - claims JSON: strictly typed (exp/nbf/iat numbers, iss/sub/jti/name/match strings, aud a
//     string or an array of strings, seat an integer), no duplicate claim names (also not
//     via \u escapes), null is not a value. Unknown claims are ignored;
//   - signature: HMAC-SHA256 with the secret, canonical base64 only;
//   - exp required; exp, nbf (if present) and iat (if present: not in the future) are checked
//     with Config.Leeway;
//   - iss must equal Config.Issuer; aud must be exactly one value, the token type's;
//   - sub: 1..64 bytes of printable UTF-8;
//   - join tickets: non-empty printable match (≤ 64 bytes), seat in 0..2^31-1, non-empty jti
//     (≤ 64 bytes), exp no later than now + JoinTTL + Leeway (this bounds how long a used
//     ticket must be remembered), and not used before.
//
// Claims JSON is decoded (by golang-jwt) before the signature is checked; MaxTokenLen bounds
// that work.
//
// # Single use
//
// VerifyJoin consumes the ticket: its jti is remembered until the ticket could no longer pass
// the exp check (exp + Leeway, at most JoinTTL + 2×Leeway after issue), then forgotten. The
// set is bounded by Config.MaxUsedTickets. At the bound the Authority refuses new tickets
// rather than forget used ones: VerifyJoin fails with an error that wraps both
// ErrInvalidToken and [ErrJoinCapacity], and IssueJoin fails with ErrJoinCapacity, until
// entries expire. The set is in memory and per process: a restart forgets it (tickets live
// ≤ JoinTTL + Leeway, so the exposure is that window), and several processes sharing a secret
// do not share it, so a ticket must only be verified by the node that hosts its match.
// Forgetting is driven by a clock that never runs backwards (the highest Now seen), so a wall
// clock step back cannot revive a forgotten ticket.
//
// # Concurrency
//
// An *Authority is safe for concurrent use by multiple goroutines; all its methods may be
// called at the same time. Config.Now, if set, must be safe for concurrent use too.
package auth
