// Package protocol is tickrelay's wire format: the message types, the one table of op, error and
// close codes, and a msgpack codec with hard limits for untrusted bytes.
//
// PROTOCOL.md beside this file is the written specification; testdata/golden.json holds encoded
// examples (checked by this package's tests and by the JS SDK's) and testdata/codes.json the code
// table in machine-readable form.
//
// # Decoding untrusted bytes
//
// DecodeClient and DecodeServer are hand-written over Reader: they check every declared length
// against the bytes left, cap nesting at MaxDepth, refuse invalid UTF-8, NaN/Inf and unknown ext
// types, and allocate nothing but the strings they return. Game payloads are kept as validated
// raw msgpack (slices of the frame), never decoded into interface values by the server.
//
// github.com/vmihailenco/msgpack/v5 is pinned at v5.4.1, which lost the v5.3 allocation cap (the
// 5 bytes dd 01 00 00 00 make it allocate a 16M-element slice). Everything that reaches it from
// the network goes through Unmarshal in this package, which runs Validate first: after
// validation a declared length can never exceed the bytes left, so the library's allocation is
// linear in the frame (alloc_test.go measures it): within 64× the frame for typed targets and
// most shapes, up to about 165× for frames made of tiny maps decoded into `any` (Go spends ~336
// bytes per map). The server itself never decodes network payloads into `any`: it keeps them as
// validated raw msgpack, and games decode them with Reader or into typed structs.
//
// # Hot paths
//
// Inputs, deltas and relay envelopes are encoded with the Append* functions into reused buffers
// and decoded into reused message structs: neither allocates. A DELTA is encoded in two parts
// (AppendDeltaHead + changes + events, then AppendDeltaTail per member) so that a match encodes
// the shared part once per tick whatever the number of members.
//
// # Goroutine safety
//
// Everything here is either a pure function or a value type (Reader) used by one goroutine at a
// time. Codes and the package-level tables are read-only.
package protocol
