package failover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/tickrelay/tickrelay/bench/loadgen"
	"github.com/tickrelay/tickrelay/server/cluster/redistest"
)

// Rig is a cluster of real processes on 127.0.0.1: one redis-server (no persistence) and
// tickrelay instances n1, n2, … sharing it and a secret. Every process is stopped by its PID.
type Rig struct {
	Redis *redistest.Server
	Inst  []*loadgen.Server
	API   []*loadgen.API
	Nodes []string

	bin, args, logDir string
	env               []string
	maxRuntime        time.Duration
}

// ServerArgs are the instances' arguments: loopback-friendly caps (every bot shares 127.0.0.1),
// checkpoints every second, a short node TTL is the cluster's default (3 s).
const ServerArgs = "--listen {addr} --admin {admin} --public-metrics --guest-rate=-1 --guest-burst 100000 --max-conns-per-ip=-1 --max-conns-per-user 4 --max-matches-per-user=-1 --max-reservations-per-user=-1 --checkpoint-every 1s --log-level info"

// NewRig starts Redis; instances come with Start.
func NewRig(bin, logDir, extraArgs string, maxRuntime time.Duration) (*Rig, error) {
	rs, err := redistest.Run(redistest.Options{})
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &Rig{Redis: rs, bin: bin, args: ServerArgs + " " + extraArgs, logDir: logDir, maxRuntime: maxRuntime,
		env: []string{"TICKRELAY_SECRET=" + hex.EncodeToString(secret)}}, nil
}

// Start starts instance n<len+1> and waits until it answers /healthz.
func (r *Rig) Start(ctx context.Context) error {
	node := "n" + strconv.Itoa(len(r.Inst)+1)
	args := r.args + " --redis redis://" + r.Redis.Addr + " --node " + node
	s, err := loadgen.StartServer(ctx, r.bin, "tickrelay-"+node, args, r.logDir, r.env, r.maxRuntime)
	if err != nil {
		return err
	}
	r.Inst = append(r.Inst, s)
	r.Nodes = append(r.Nodes, node)
	r.API = append(r.API, loadgen.NewAPI(s.Addr, 16))
	return nil
}

// WaitNodes waits until every live instance sees n instances in the registry.
func (r *Rig) WaitNodes(ctx context.Context, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ok := true
		for i, a := range r.API {
			if !r.Inst[i].Alive() {
				continue
			}
			if v, seen := loadgen.Gauge(a.Metrics(ctx), "tickrelay_cluster_instances"); !seen || int(v) < n {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the instances did not all see %d instances in %v", n, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Addrs are the instances' host:port.
func (r *Rig) Addrs() []string {
	out := make([]string, len(r.Inst))
	for i, s := range r.Inst {
		out[i] = s.Addr
	}
	return out
}

// Signal sends sig to instance i (a PID this rig started).
func (r *Rig) Signal(i int, sig syscall.Signal) error { return syscall.Kill(r.Inst[i].PID, sig) }

// WaitExit waits until instance i has exited; false after limit.
func (r *Rig) WaitExit(i int, limit time.Duration) bool {
	select {
	case <-r.Inst[i].Exited():
		return true
	case <-time.After(limit):
		return false
	}
}

// Stop stops every instance (SIGCONT first, for a stopped one) and Redis.
func (r *Rig) Stop() {
	for i, s := range r.Inst {
		if s.Alive() {
			_ = r.Signal(i, syscall.SIGCONT)
		}
		r.API[i].Close()
		s.Stop()
	}
	_ = r.Redis.Stop()
}

var restoredRE = regexp.MustCompile(`msg="match restored" match=(\S+) .*?epoch=(\d+) tick=(\d+)`)

// Restore is one "match restored" log line of an instance.
type Restore struct {
	Node         string
	Epoch, Tick  uint32
	Instance     int
	LogLineFound bool
}

// Restored reads every instance's log for the matches restored there: match id → restore.
func (r *Rig) Restored() map[string]Restore {
	out := map[string]Restore{}
	for i, s := range r.Inst {
		b, err := os.ReadFile(s.LogPath)
		if err != nil {
			continue
		}
		for _, m := range restoredRE.FindAllSubmatch(b, -1) {
			ep, _ := strconv.ParseUint(string(m[2]), 10, 32)
			tk, _ := strconv.ParseUint(string(m[3]), 10, 32)
			if prev, ok := out[string(m[1])]; ok && prev.Epoch >= uint32(ep) {
				continue
			}
			out[string(m[1])] = Restore{Node: r.Nodes[i], Epoch: uint32(ep), Tick: uint32(tk), Instance: i, LogLineFound: true}
		}
	}
	return out
}

// Build builds the tickrelay binary from the repository that holds this package into dir.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return loadgen.BuildServer(ctx, root, loadgen.TargetTickrelay, dir)
}

func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		d = parent
	}
}
