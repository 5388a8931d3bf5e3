package cluster

import (
	"errors"
	"log/slog"

	"github.com/tickrelay/tickrelay/server"
)

// RedisBusConfig is what an instance needs to join a cluster over Redis.
type RedisBusConfig struct {
	Redis RedisConfig // Addr (standalone, host:port or redis:// URL) or ClusterAddrs
	Bus   BusConfig   // Broker and Directory are built here; the rest as BusConfig says
	Log   *slog.Logger
}

// NewRedisBus returns the server.BusFactory of a cluster bus over Redis: a Redis broker and
// directory (their metrics registered with the server's), closed with the bus.
func NewRedisBus(c RedisBusConfig) server.BusFactory {
	return func(env server.BusEnv) (server.Bus, error) {
		m := NewMetrics()
		rc := c.Redis
		rc.Metrics, rc.Name = m, env.Node
		if rc.Logger == nil {
			rc.Logger = env.Log
		}
		broker, err := NewRedisBroker(rc)
		if err != nil {
			return nil, err
		}
		dir, err := NewRedisDirectory(rc, DirectoryConfig{Names: c.Bus.Names, Metrics: m})
		if err != nil {
			_ = broker.Close()
			return nil, err
		}
		bc := c.Bus
		bc.Broker, bc.Directory, bc.Metrics, bc.ownsSubstrate = broker, dir, m, true
		b, err := newBus(bc, env)
		if err != nil {
			return nil, errors.Join(err, broker.Close(), dir.Close())
		}
		return b, nil
	}
}
