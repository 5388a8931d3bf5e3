package checkpoint

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Errors of a Store.
var (
	ErrNotFound = errors.New("checkpoint: not found")
	ErrFenced   = errors.New("checkpoint: a later epoch is stored")
)

// Record is one stored checkpoint.
type Record struct {
	Match string
	Game  string
	Epoch uint32
	Tick  uint32
	Taken time.Time
	Data  []byte // game.Registry.Restore reads it
}

// Store keeps the last checkpoint of each match.
type Store interface {
	// Put stores r unless a checkpoint of a later epoch is stored (ErrFenced).
	Put(ctx context.Context, r Record) error
	// Get returns match's checkpoint, or ErrNotFound.
	Get(ctx context.Context, match string) (Record, error)
	// Delete removes match's checkpoint if its epoch is at most epoch (the match ended in
	// epoch): afterwards Get finds nothing and a Put of epoch or earlier is fenced (a tombstone),
	// so an ended match is never restored.
	Delete(ctx context.Context, match string, epoch uint32) error
}

// MemoryStore is a Store in this process's memory.
// Tombstones are kept for the life of the store.
type MemoryStore struct {
	mu    sync.Mutex
	m     map[string]Record
	ended map[string]uint32
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{m: map[string]Record{}, ended: map[string]uint32{}}
}

func (s *MemoryStore) Put(_ context.Context, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[r.Match]; ok && old.Epoch > r.Epoch {
		return ErrFenced
	}
	if e, ok := s.ended[r.Match]; ok && e >= r.Epoch {
		return ErrFenced
	}
	delete(s.ended, r.Match)
	r.Data = append([]byte(nil), r.Data...)
	s.m[r.Match] = r
	return nil
}

func (s *MemoryStore) Get(_ context.Context, match string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[match]
	if !ok {
		return Record{}, ErrNotFound
	}
	r.Data = append([]byte(nil), r.Data...)
	return r, nil
}

func (s *MemoryStore) Delete(_ context.Context, match string, epoch uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[match]; ok && r.Epoch > epoch {
		return nil
	}
	delete(s.m, match)
	s.ended[match] = max(s.ended[match], epoch)
	return nil
}
