//go:build race

package server

// raceEnabled: built with -race, where sync.Pool drops a quarter of what is put back (on
// purpose, to find misuse), so a pooled buffer is sometimes allocated again.
const raceEnabled = true
