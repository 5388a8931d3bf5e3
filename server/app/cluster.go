package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tickrelay/tickrelay/game"
	"github.com/tickrelay/tickrelay/server"
	"github.com/tickrelay/tickrelay/server/checkpoint"
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
	store, err := o.checkpoints(cfg, rc)
	if err != nil {
		return err
	}
	cfg.Bus = cluster.NewRedisBus(cluster.RedisBusConfig{Redis: rc, Bus: cluster.BusConfig{Version: Version(),
		Capacity: cfg.MaxConns, Checkpoints: store}})
	return nil
}

// checkpoints builds the checkpoint store in Redis and the writer the registry hands match
// checkpoints to (cfg.Checkpoints), unless --checkpoint-every is negative. Run registers the
// writer's metrics and closes it (after the server) with closeCheckpoints.
func (o *options) checkpoints(cfg *server.Config, rc cluster.RedisConfig) (checkpoint.Store, error) {
	if cfg.CheckpointEvery < 0 {
		return nil, nil
	}
	if o.cpMaxBytes <= 0 || o.cpMaxBytes > game.MaxCheckpointBytes {
		return nil, fmt.Errorf("--checkpoint-max-bytes %d: want 1..%d", o.cpMaxBytes, game.MaxCheckpointBytes)
	}
	if o.cpTTL < time.Second {
		return nil, fmt.Errorf("--checkpoint-ttl %s: want at least 1s", o.cpTTL)
	}
	rdb, err := cluster.NewRedisClient(rc)
	if err != nil {
		return nil, fmt.Errorf("checkpoint store: %w", err)
	}
	store := checkpoint.NewRedisStore(rdb, cluster.DefaultPrefix+":", o.cpTTL)
	o.cpClient = rdb
	o.cpWriter = checkpoint.NewWriter(checkpoint.WriterConfig{Store: store, MaxBytes: o.cpMaxBytes, Log: cfg.Log})
	cfg.Checkpoints = o.cpWriter
	return store, nil
}

// closeCheckpoints stores what is pending (for up to 5 s) and closes the store's client.
func (o *options) closeCheckpoints() {
	if o.cpWriter != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = o.cpWriter.Close(ctx)
	}
	if o.cpClient != nil {
		_ = o.cpClient.Close()
	}
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
