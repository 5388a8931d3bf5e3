package redistest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CreateTimeout bounds `redis-cli --cluster create` (it takes a second or two on a busy machine).
const CreateTimeout = 30 * time.Second

// Cluster is a Redis Cluster of masters without replicas, one redis-server each.
type Cluster struct {
	Nodes []*Server
}

// StartCluster runs an n-master cluster for t (n ≥ 3) and stops it when t ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := RunCluster(n)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

// RunCluster starts n cluster-enabled servers, joins them with
// `redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes` (slots split evenly) and
// waits until every node reports cluster_state:ok and sees all n masters.
func RunCluster(n int) (*Cluster, error) {
	if n < 3 {
		return nil, fmt.Errorf("redistest: a cluster needs at least 3 masters, not %d", n)
	}
	c := &Cluster{}
	for i := 0; i < n; i++ {
		s, err := Run(Options{Cluster: true})
		if err != nil {
			_ = c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	// Bounded: redis-cli waits for the nodes to agree ("Waiting for the cluster to join") with
	// no limit of its own, and a node that never joins would hang the test until its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), CreateTimeout)
	out, err := exec.CommandContext(ctx, CLIBinary, args...).CombinedOutput()
	cancel()
	if err != nil {
		logs := ""
		for _, s := range c.Nodes {
			logs += fmt.Sprintf("\n%s: %s", s.Addr, s.log.String())
		}
		_ = c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create (limit %v): %w: %s%s", CreateTimeout, err, out, logs)
	}
	if err := c.WaitOK(ReadyTimeout); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// Addrs lists the nodes' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr
	}
	return out
}

// WaitOK waits until every running node reports cluster_state:ok and knows every master.
func (c *Cluster) WaitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: cluster not ok after %v: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the servers' gossip, not test sync
	}
}

func (c *Cluster) check() error {
	for _, s := range c.Nodes {
		info, err := s.Do("CLUSTER", "INFO")
		if err != nil {
			return fmt.Errorf("%s: %w", s.Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state not ok", s.Addr)
		}
		if !strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Nodes))+"\r\n") {
			return fmt.Errorf("%s: does not know all %d nodes yet", s.Addr, len(c.Nodes))
		}
	}
	return nil
}

// ID is the node's cluster id (CLUSTER MYID).
func (s *Server) ID() (string, error) { return s.Do("CLUSTER", "MYID") }

// Owner returns the node that serves slot (according to the first running node's CLUSTER NODES).
func (c *Cluster) Owner(slot int) (*Server, error) {
	for _, s := range c.Nodes {
		nodes, err := s.Do("CLUSTER", "NODES")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) < 8 || !strings.Contains(f[2], "master") {
				continue
			}
			for _, r := range f[8:] {
				if strings.HasPrefix(r, "[") {
					continue // a slot being migrated or imported
				}
				lo, hi, _ := strings.Cut(r, "-")
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if hi == "" {
					b, err2 = a, err1
				}
				if err1 != nil || err2 != nil || slot < a || slot > b {
					continue
				}
				addr, _, _ := strings.Cut(f[1], "@")
				for _, n := range c.Nodes {
					if n.Addr == addr {
						return n, nil
					}
				}
			}
		}
		break
	}
	return nil, fmt.Errorf("redistest: no owner found for slot %d", slot)
}

// MoveSlot migrates slot (and its keys) from its owner to node to, the way
// redis-cli --cluster reshard does: SETSLOT IMPORTING/MIGRATING, MIGRATE the keys, then
// SETSLOT NODE on every master. Sharded Pub/Sub clients of the slot get SUNSUBSCRIBE.
func (c *Cluster) MoveSlot(slot int, to *Server) error {
	from, err := c.Owner(slot)
	if err != nil {
		return err
	}
	if from == to {
		return errors.New("redistest: slot already there")
	}
	fromID, err := from.ID()
	if err != nil {
		return err
	}
	toID, err := to.ID()
	if err != nil {
		return err
	}
	sl := strconv.Itoa(slot)
	if _, err := to.Do("CLUSTER", "SETSLOT", sl, "IMPORTING", fromID); err != nil {
		return fmt.Errorf("importing: %w", err)
	}
	if _, err := from.Do("CLUSTER", "SETSLOT", sl, "MIGRATING", toID); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	for {
		keys, err := from.Do("CLUSTER", "GETKEYSINSLOT", sl, "100")
		if err != nil {
			return err
		}
		if keys == "" {
			break
		}
		args := []string{"MIGRATE", "127.0.0.1", strconv.Itoa(to.Port), "", "0", "2000", "KEYS"}
		args = append(args, strings.Split(keys, "\n")...)
		if _, err := from.Do(args...); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	for _, s := range []*Server{to, from} {
		if _, err := s.Do("CLUSTER", "SETSLOT", sl, "NODE", toID); err != nil {
			return fmt.Errorf("setslot node on %s: %w", s.Addr, err)
		}
	}
	for _, s := range c.Nodes {
		if s != to && s != from {
			_, _ = s.Do("CLUSTER", "SETSLOT", sl, "NODE", toID)
		}
	}
	return nil
}

// Stop stops every node.
func (c *Cluster) Stop() error {
	var first error
	for _, s := range c.Nodes {
		if err := s.Stop(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
