// Package gametest runs a game's match on a manual clock so a test steps it tick by tick, with
// players that send inputs and messages and keep a client's mirror of the state. Nothing sleeps:
// Step advances the clock one tick and returns once the match has finished it.
//
//	h := gametest.New(t, tag.Type, nil)
//	ann, bob := h.Join("ann"), h.Join("bob")
//	ann.Input([]float64{1, 0})
//	h.Step()
//	x := ann.Field(ann.PID, "x") // ann's view of her own entity, by schema name
//	if ev := bob.Events("tagged"); len(ev) > 0 { ... }
//
// A Harness is for one test goroutine; the match runs in its own goroutine as in production.
package gametest
