package loadgen

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/tickrelay/tickrelay/protocol"
)

// lateAfter is how far behind its slot an input may go out before it counts as late.
const lateAfter = 5 * time.Millisecond

// payloads are pre-encoded arena inputs [dx, dy] with dx, dy uniform in [-1, 1] (float32), so
// the send path draws no random numbers and encodes nothing but the header.
var payloads = func() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, 64)
	for i := range out {
		b := []byte{0x92}
		for j := 0; j < 2; j++ {
			b = append(b, 0xca)
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(float32(rng.Float64()*2-1)))
		}
		out[i] = b
	}
	return out
}()

// sender sends the inputs of its clients, each every interval at its own phase. One goroutine
// serves many clients: it sleeps until the earliest due input, then sends everything due
// (within 0.5 ms). An input sent more than lateAfter after its slot counts as late; a whole
// missed period is skipped (and counted), so an overloaded load generator shows in the figures
// instead of silently sending less.
type sender struct {
	r       *run
	jitter  bool // a new random phase every period (few senders: sample every phase of the tick)
	clients []*client
	buf     []byte
	late    atomic.Int64
	skipped atomic.Int64

	iv  int64 // an epoll pool's schedule (wheel.go): the interval
	cur int   // and the cursor
}

func (s *sender) loop(stop <-chan struct{}) {
	iv := int64(s.r.cfg.Interval)
	start := s.r.now()
	for _, c := range s.clients {
		c.period = start
		c.phase = rand.Int64N(iv) // a random phase against the server's ticks
		c.due = c.period + c.phase
		c.pay = rand.IntN(len(payloads))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := s.r.now()
		next := now + iv
		for _, c := range s.clients {
			if c.due > now+int64(500*time.Microsecond) {
				if c.due < next {
					next = c.due
				}
				continue
			}
			if behind := now - c.due; behind >= iv {
				missed := behind / iv
				s.skipped.Add(missed)
				c.period += missed * iv
				c.due += missed * iv
			}
			if ts := s.send(c); ts-c.due > int64(lateAfter) {
				s.late.Add(1)
			}
			c.period += iv
			if s.jitter {
				c.phase = rand.Int64N(iv)
			}
			c.due = c.period + c.phase
			if c.due < next {
				next = c.due
			}
		}
		wait := time.Duration(next - s.r.now())
		if wait < 100*time.Microsecond {
			wait = 100 * time.Microsecond
		}
		timer.Reset(wait)
		select {
		case <-stop:
			return
		case <-timer.C:
		}
	}
}

// send writes one INPUT [4, seq, seen, [dx, dy]], remembering its send time for the ack, and
// returns that time.
func (s *sender) send(c *client) int64 {
	if c.conn == nil || c.closing.Load() {
		return c.due
	}
	c.seq++
	c.pay++
	s.buf = protocol.AppendInput(s.buf[:0], c.seq, c.lastTick.Load(), payloads[c.pay%len(payloads)])
	ts := s.r.now()
	c.stamp(ts)
	if err := c.conn.WriteMessage(gws.OpcodeBinary, s.buf); err != nil {
		return ts // the read side sees the close and counts the drop
	}
	c.msgsOut.Add(1)
	c.bytesOut.Add(int64(len(s.buf)))
	return ts
}

// startSenders starts what sends the inputs: cfg.Senders goroutines over the gws clients
// (round-robin), or cfg.Pools epoll pools that take over the epoll clients' sockets. stop
// stops them (once) and closes the pools' connections.
func (r *run) startSenders(cfg *Config, ms []*matchState, raw bool) (senders []*sender, measuring int, stop func(), err error) {
	var pools []*pool
	n := cfg.Senders
	if raw {
		n = cfg.Pools
	}
	for range n {
		if !raw {
			// fanout has a single sender: a fixed phase would measure one point of the tick
			senders = append(senders, &sender{r: r, jitter: cfg.Scenario == ScenarioFanout})
			continue
		}
		p, err := newPool(r)
		if err != nil {
			for _, p := range pools {
				p.closeAll()
			}
			return nil, 0, nil, err
		}
		pools = append(pools, p)
		senders = append(senders, p.s)
	}
	k := 0
	for _, m := range ms {
		for _, c := range m.clients {
			if !c.joined.Load() {
				continue
			}
			if c.role == roleAck && c.sends {
				measuring++
			}
			if raw {
				if err := pools[k%len(pools)].add(c, c.sends); err != nil {
					r.countErr("epoll pool: " + errKind(err))
					c.close()
					r.drops.Add(1) // it joined and is lost: as a dropped connection
					continue
				}
			} else if c.sends {
				senders[k%len(senders)].clients = append(senders[k%len(senders)].clients, c)
			}
			k++
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if raw {
				pools[i].loop(done)
			} else {
				s.loop(done)
			}
		}()
	}
	stop = sync.OnceFunc(func() {
		close(done)
		wg.Wait()
		for _, p := range pools {
			p.closeAll()
		}
	})
	return senders, measuring, stop, nil
}
