package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/cluster"
)

// clusterBus sets cfg.Bus to the Redis cluster bus when --redis or --redis-cluster is given;
// then an instance needs a unique --node (one is generated unless given) and a --public-url
// other instances and clients can reach (default: http:// + --listen).
func (o *options) clusterBus(cfg *server.Config) error {
	if o.redis == "" && o.redisCluster == "" {
		return nil
	}
	if o.redis != "" && o.redisCluster != "" {
		return fmt.Errorf("--redis and --redis-cluster are both set: use one")
	}
	rc := cluster.RedisConfig{Addr: o.redis}
	if o.redisCluster != "" {
		for _, a := range strings.Split(o.redisCluster, ",") {
			if a = strings.TrimSpace(a); a != "" {
				rc.ClusterAddrs = append(rc.ClusterAddrs, a)
			}
		}
	}
	if _, env := os.LookupEnv(envName("node")); !o.given["node"] && !env {
		cfg.NodeID = generatedNode()
	}
	if cfg.PublicURL == "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return fmt.Errorf("--listen %q: %w", cfg.Listen, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			if host, err = os.Hostname(); err != nil {
				host = "127.0.0.1"
			}
		}
		cfg.PublicURL = "http://" + net.JoinHostPort(host, port)
	}
	cfg.Bus = cluster.NewRedisBus(cluster.RedisBusConfig{Redis: rc, Bus: cluster.BusConfig{Version: Version(),
		Capacity: cfg.MaxConns}})
	return nil
}

// generatedNode is a node name unique enough for instances started side by side: the host
// name and 4 random bytes.
func generatedNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "tickrelay"
	}
	h = strings.NewReplacer("{", "", "}", "", " ", "").Replace(h)
	var b [4]byte
	_, _ = rand.Read(b[:])
	return h + "-" + hex.EncodeToString(b[:])
}
