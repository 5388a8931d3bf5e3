// Package relay is the game with no authoritative state: a member's messages go to the others
// (the sender only when it asks for an echo), and joins and leaves are announced to all. It is
// the chat room and the base for peer-driven games.
package relay

import "github.com/tickrelay/tickrelay/game"

// Type is the relay's catalog entry. Its matches never end on their own while anyone is in
// them, and hold 64 players by default.
var Type = game.GameType{Name: "relay", New: func() game.Logic { return &Relay{} },
	Defaults: game.Options{TickRate: 20, MaxPlayers: 64}}

// Relay is the game logic: game.Base already relays messages (Ctx.Relay) and the runtime
// announces joins and leaves, so there is nothing to add.
type Relay struct{ game.Base }
