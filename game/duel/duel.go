// Package duel is a two-player, turn-based card game with hidden hands: it proves private
// fields, turn order and a match that ends with a result.
//
// Each player is dealt 5 of the cards 1–10 (their hand is a private field only they see). The
// players take turns: the leader plays a card face up, the other answers; the higher card wins
// the trick and leads the next. After 5 tricks the player with more tricks wins. An input is
// [card]; a card not in your hand, or played out of turn, is refused with a "refused" game event
// to you alone. Leaving (not a dropped connection) forfeits; leaving before the deal (or a
// dropped seat timing out then) frees the seat for the next player.
package duel

import (
	"fmt"
	"slices"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/protocol"
)

// Field keys (one schema for both entity kinds).
const (
	KeyTurn   game.Key = 0 // table: pid to play
	KeyRound  game.Key = 1 // table: trick number, 1–5
	KeyPhase  game.Key = 2 // table: "waiting", "playing", "over"
	KeyLead   game.Key = 3 // table: the card led in this trick, or nil
	KeyTricks game.Key = 4 // player: tricks won
	KeyHand   game.Key = 5 // player, private: the cards in hand
	KeyPlayed game.Key = 6 // player: the last card played
	KeyCount  game.Key = 7 // player: cards left in hand
)

// Table is the entity id of the shared table; players' entities are their pids.
const Table game.EntityID = 1000

const handSize = 5

// Type is the duel's catalog entry.
var Type = game.GameType{Name: "duel", New: func() game.Logic { return &Duel{} },
	Defaults: game.Options{TickRate: 10, MaxPlayers: 2}}

// Duel is the game logic.
type Duel struct {
	game.Base
	hands  map[uint32][]int
	seats  []uint32
	leader uint32
	lead   int
}

func (d *Duel) Schema() []string {
	return []string{"turn", "round", "phase", "lead", "tricks", "hand", "played", "count"}
}

func (d *Duel) Init(ctx *game.Ctx, _ []byte) error {
	d.hands = map[uint32][]int{}
	ctx.State().Spawn(Table).Set(KeyPhase, game.Str("waiting")).Set(KeyRound, game.Int(0)).
		Set(KeyTurn, game.Int(0)).Set(KeyLead, game.Nil())
	return nil
}

func (d *Duel) Admit(ctx *game.Ctx, p *game.Player) error {
	if len(d.seats) >= 2 {
		return game.Refuse("the duel has started")
	}
	return nil
}

func (d *Duel) Join(ctx *game.Ctx, p *game.Player) {
	d.seats = append(d.seats, p.PID)
	ctx.State().Spawn(game.EntityID(p.PID)).SetOwner(p.PID).
		Set(KeyTricks, game.Int(0)).Set(KeyCount, game.Int(0)).Set(KeyPlayed, game.Nil())
	if len(d.seats) == 2 {
		d.deal(ctx)
	}
}

func (d *Duel) deal(ctx *game.Ctx) {
	deck := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	ctx.Rand().Shuffle(len(deck), func(i, j int) { deck[i], deck[j] = deck[j], deck[i] })
	for i, pid := range d.seats {
		hand := slices.Clone(deck[i*handSize : (i+1)*handSize])
		slices.Sort(hand)
		d.hands[pid] = hand
		d.setHand(ctx, pid)
	}
	d.leader = d.seats[0]
	ctx.State().Get(Table).Set(KeyPhase, game.Str("playing")).Set(KeyRound, game.Int(1)).
		Set(KeyTurn, game.Uint(uint64(d.leader)))
	ctx.SetLabel("phase", "playing")
}

func (d *Duel) setHand(ctx *game.Ctx, pid uint32) {
	ctx.State().Get(game.EntityID(pid)).
		SetPrivate(KeyHand, game.MustAny(d.hands[pid])).
		Set(KeyCount, game.Int(int64(len(d.hands[pid]))))
}

func (d *Duel) other(pid uint32) uint32 {
	if d.seats[0] == pid {
		return d.seats[1]
	}
	return d.seats[0]
}

func (d *Duel) Input(ctx *game.Ctx, p *game.Player, seq uint32, payload []byte) {
	table := ctx.State().Get(Table)
	if table.Field(KeyPhase).String() != "playing" {
		ctx.EmitTo(p.PID, "refused", "not playing")
		return
	}
	if uint32(table.Field(KeyTurn).Int()) != p.PID {
		ctx.EmitTo(p.PID, "refused", "not your turn")
		return
	}
	r := protocol.NewReader(payload)
	if n, err := r.ArrayLen(); err != nil || n < 1 {
		ctx.EmitTo(p.PID, "refused", "input is [card]")
		return
	}
	card, err := r.Int()
	i := slices.Index(d.hands[p.PID], int(card))
	if err != nil || i < 0 {
		ctx.EmitTo(p.PID, "refused", "not in your hand")
		return
	}
	d.hands[p.PID] = slices.Delete(d.hands[p.PID], i, i+1)
	d.setHand(ctx, p.PID)
	ctx.State().Get(game.EntityID(p.PID)).Set(KeyPlayed, game.Int(card))
	if p.PID == d.leader {
		d.lead = int(card)
		table.Set(KeyLead, game.Int(card)).Set(KeyTurn, game.Uint(uint64(d.other(p.PID))))
		return
	}
	winner := d.leader
	if int(card) > d.lead {
		winner = p.PID
	}
	we := ctx.State().Get(game.EntityID(winner))
	we.Set(KeyTricks, game.Int(we.Field(KeyTricks).Int()+1))
	ctx.Emit("trick", map[string]any{"winner": winner, "cards": []int{d.lead, int(card)}})
	d.leader, d.lead = winner, 0
	round := table.Field(KeyRound).Int()
	if round >= handSize {
		d.finish(ctx)
		return
	}
	table.Set(KeyRound, game.Int(round+1)).Set(KeyLead, game.Nil()).Set(KeyTurn, game.Uint(uint64(winner)))
}

func (d *Duel) finish(ctx *game.Ctx) {
	ctx.State().Get(Table).Set(KeyPhase, game.Str("over")).Set(KeyTurn, game.Int(0)).Set(KeyLead, game.Nil())
	tricks := map[uint32]int64{}
	for _, pid := range d.seats {
		tricks[pid] = ctx.State().Get(game.EntityID(pid)).Field(KeyTricks).Int()
	}
	var winner uint32 // 0: a draw (cannot happen with 5 tricks, kept for safety)
	a, b := d.seats[0], d.seats[1]
	if tricks[a] > tricks[b] {
		winner = a
	} else if tricks[b] > tricks[a] {
		winner = b
	}
	ctx.SetLabel("phase", "over")
	ctx.End(result(winner, tricks))
}

// result encodes {"forfeit": false, "tricks": {pid: n, …}, "winner": pid} with its keys in
// order, so that the same game gives the same bytes in every run (msgpack/v5 sorts only
// string-keyed maps, and a map iterates in random order): a restored match and its original
// end with equal results.
func result(winner uint32, tricks map[uint32]int64) game.Value {
	pids := make([]uint32, 0, len(tricks))
	for pid := range tricks {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	b := protocol.AppendMapHeader(nil, 3)
	b = protocol.AppendBool(protocol.AppendString(b, "forfeit"), false)
	b = protocol.AppendMapHeader(protocol.AppendString(b, "tricks"), len(pids))
	for _, pid := range pids {
		b = protocol.AppendInt(protocol.AppendUint(b, uint64(pid)), tricks[pid])
	}
	b = protocol.AppendUint(protocol.AppendString(b, "winner"), uint64(winner))
	return game.Raw(b)
}

func (d *Duel) Leave(ctx *game.Ctx, p *game.Player, reason protocol.LeaveReason) {
	if reason == protocol.LeaveDropped || reason == protocol.LeaveEnded {
		return
	}
	switch ctx.State().Get(Table).Field(KeyPhase).String() {
	case "playing":
		d.forfeit(ctx, p.PID)
	case "waiting":
		// Not dealt yet: the seat is free again, so the next player is not dealt against a ghost.
		d.seats = slices.DeleteFunc(d.seats, func(x uint32) bool { return x == p.PID })
		ctx.State().Remove(game.EntityID(p.PID))
	}
}

func (d *Duel) forfeit(ctx *game.Ctx, loser uint32) {
	table := ctx.State().Get(Table)
	table.Set(KeyPhase, game.Str("over")).Set(KeyTurn, game.Int(0)).Set(KeyLead, game.Nil())
	ctx.SetLabel("phase", "over")
	ctx.End(map[string]any{"winner": d.other(loser), "forfeit": true})
}

// checkpoint is the duel's own data in a match checkpoint (hands are also in the private
// fields, but the rules read them from here).
type checkpoint struct {
	Hands  map[uint32][]int `msgpack:"hands"`
	Seats  []uint32         `msgpack:"seats"`
	Leader uint32           `msgpack:"leader"`
	Lead   int              `msgpack:"lead"`
}

// Checkpoint implements game.Checkpointer.
func (d *Duel) Checkpoint() ([]byte, error) {
	return protocol.Marshal(checkpoint{Hands: d.hands, Seats: d.seats, Leader: d.leader, Lead: d.lead})
}

// Restore implements game.Checkpointer.
func (d *Duel) Restore(data []byte) error {
	var c checkpoint
	if err := protocol.Unmarshal(data, &c); err != nil {
		return err
	}
	if len(c.Seats) > 2 || len(c.Hands) > 2 {
		return fmt.Errorf("duel: bad checkpoint (%d seats, %d hands)", len(c.Seats), len(c.Hands))
	}
	for pid, h := range c.Hands {
		if !slices.Contains(c.Seats, pid) || len(h) > handSize {
			return fmt.Errorf("duel: bad checkpoint (hand of %d)", pid)
		}
	}
	if c.Hands == nil {
		c.Hands = map[uint32][]int{}
	}
	d.hands, d.seats, d.leader, d.lead = c.Hands, c.Seats, c.Leader, c.Lead
	return nil
}
