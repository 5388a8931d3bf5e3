package checkpoint

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickrelay/tickrelay/game"
)

// Failure reasons counted in tickrelay_checkpoint_failures_total.
const (
	FailEncode   = "encode"    // the match could not take it (game's Checkpoint failed)
	FailTooLarge = "too_large" // over WriterConfig.MaxBytes
	FailPending  = "pending"   // WriterConfig.MaxPending matches already waiting
	FailStore    = "store"     // the store refused or was unreachable
	FailFenced   = "fenced"    // a later epoch is stored: another instance owns the match
)

// WriterConfig configures a Writer. Zero values are the defaults in the comments.
type WriterConfig struct {
	Store      Store         // required
	MaxBytes   int           // largest checkpoint stored; default 1 MiB, at most game.MaxCheckpointBytes
	MaxPending int           // matches with a checkpoint waiting to be stored; default 10,000
	Timeout    time.Duration // per store call; default 2s
	Log        *slog.Logger  // default slog.Default()
	Now        func() time.Time
}

// Writer is a game.CheckpointSink that stores checkpoints from its own goroutine.
type Writer struct {
	cfg      WriterConfig
	bytes    prometheus.Histogram
	duration prometheus.Histogram
	failures *prometheus.CounterVec
	age      prometheus.GaugeFunc

	mu       sync.Mutex
	pending  map[string]game.MatchCheckpoint
	forget   map[string]uint32    // match → the epoch to delete up to
	epochs   map[string]uint32    // the epoch each live match last offered
	lastGood map[string]time.Time // when the stored checkpoint of each live match was taken
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	closing  sync.Once
}

// NewWriter starts a Writer; Close stops it.
func NewWriter(c WriterConfig) *Writer {
	if c.Store == nil {
		panic("checkpoint: WriterConfig.Store is required")
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	c.MaxBytes = min(c.MaxBytes, game.MaxCheckpointBytes)
	if c.MaxPending <= 0 {
		c.MaxPending = 10000
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	w := &Writer{cfg: c,
		bytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickrelay_checkpoint_bytes",
			Help: "Size of the match checkpoints stored.", Buckets: prometheus.ExponentialBuckets(256, 4, 8)}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickrelay_checkpoint_write_seconds",
			Help: "Time to store one match checkpoint.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8)}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickrelay_checkpoint_failures_total",
			Help: "Match checkpoints not stored, by reason (encode, too_large, pending, store, fenced)."}, []string{"reason"}),
		pending: map[string]game.MatchCheckpoint{}, forget: map[string]uint32{}, epochs: map[string]uint32{},
		lastGood: map[string]time.Time{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, r := range []string{FailEncode, FailTooLarge, FailPending, FailStore, FailFenced} {
		w.failures.WithLabelValues(r)
	}
	w.age = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickrelay_checkpoint_last_good_age_seconds",
		Help: "Age of the oldest last good checkpoint among this instance's checkpointed matches (0: none)."}, func() float64 {
		return w.OldestGood().Seconds()
	})
	go w.run()
	return w
}

// Collectors are the writer's metrics, for a prometheus registry.
func (w *Writer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.bytes, w.duration, w.failures, w.age}
}

// Offer implements game.CheckpointSink: it never blocks.
func (w *Writer) Offer(c game.MatchCheckpoint) {
	switch {
	case c.Err != nil:
		w.failures.WithLabelValues(FailEncode).Inc()
		return
	case len(c.Data) > w.cfg.MaxBytes:
		w.failures.WithLabelValues(FailTooLarge).Inc()
		w.cfg.Log.Warn("checkpoint too large", "match", c.Match, "bytes", len(c.Data), "max", w.cfg.MaxBytes)
		return
	}
	w.mu.Lock()
	_, had := w.pending[c.Match]
	if !had && len(w.pending) >= w.cfg.MaxPending {
		w.mu.Unlock()
		w.failures.WithLabelValues(FailPending).Inc()
		return
	}
	w.pending[c.Match] = c // replaces an older one not stored yet
	w.epochs[c.Match] = c.Epoch
	delete(w.forget, c.Match)
	w.mu.Unlock()
	w.signal()
}

// Forget implements game.CheckpointSink: the match ended, its checkpoint is deleted.
func (w *Writer) Forget(match string) {
	w.mu.Lock()
	delete(w.pending, match)
	delete(w.lastGood, match)
	if e, ok := w.epochs[match]; ok {
		w.forget[match] = e
		delete(w.epochs, match)
	}
	w.mu.Unlock()
	w.signal()
}

// OldestGood is the age of the oldest last good checkpoint among live matches (0: none).
func (w *Writer) OldestGood() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var oldest time.Duration
	now := w.cfg.Now()
	for _, t := range w.lastGood {
		oldest = max(oldest, now.Sub(t))
	}
	return oldest
}

// Close stops the writer after the checkpoints pending now were stored (or ctx is done).
func (w *Writer) Close(ctx context.Context) error {
	w.closing.Do(func() { close(w.stop) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Writer) run() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
			w.flush()
		case <-w.stop:
			w.flush()
			return
		}
	}
}

// flush stores everything pending now.
func (w *Writer) flush() {
	w.mu.Lock()
	pending, forget := w.pending, w.forget
	w.pending, w.forget = map[string]game.MatchCheckpoint{}, map[string]uint32{}
	w.mu.Unlock()
	for id, epoch := range forget {
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
		if err := w.cfg.Store.Delete(ctx, id, epoch); err != nil {
			w.cfg.Log.Warn("checkpoint not deleted", "match", id, "err", err)
		}
		cancel()
	}
	for _, c := range pending {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
		err := w.cfg.Store.Put(ctx, Record{Match: c.Match, Game: c.Game, Epoch: c.Epoch, Tick: c.Tick, Taken: c.Taken, Data: c.Data})
		cancel()
		switch {
		case errors.Is(err, ErrFenced):
			w.failures.WithLabelValues(FailFenced).Inc()
			w.cfg.Log.Warn("checkpoint fenced: a later epoch of the match is stored", "match", c.Match, "epoch", c.Epoch)
			continue
		case err != nil:
			w.failures.WithLabelValues(FailStore).Inc()
			w.cfg.Log.Warn("checkpoint not stored", "match", c.Match, "err", err)
			continue
		}
		w.duration.Observe(time.Since(start).Seconds())
		w.bytes.Observe(float64(len(c.Data)))
		w.mu.Lock()
		if _, live := w.epochs[c.Match]; live {
			w.lastGood[c.Match] = c.Taken
		}
		w.mu.Unlock()
	}
}
