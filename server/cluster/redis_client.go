package cluster

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisConfig says how to reach Redis: Addr for a standalone server, or ClusterAddrs for a
// Redis Cluster (seed nodes). The zero values of the timings are the documented defaults.
type RedisConfig struct {
	Addr         string   // host:port or a redis:// URL (standalone)
	ClusterAddrs []string // host:port of cluster nodes (Redis Cluster: sharded Pub/Sub)
	Name         string   // CLIENT SETNAME of the connections (the node name helps operators)

	Timeout        time.Duration // deadline of every Redis call, default DefaultTimeout (capped at 2 s)
	MaxBackoff     time.Duration // reconnect backoff cap, default DefaultMaxBackoff (capped at 1 s)
	HealthInterval time.Duration // PING period of the health goroutine, default DefaultHealthInterval
	MaxMessage     int           // largest message Publish accepts, default DefaultMaxMessage
	Metrics        *Metrics
	Logger         *slog.Logger // default slog.Default()
}

func (c RedisConfig) withDefaults() (RedisConfig, error) {
	if (c.Addr == "") == (len(c.ClusterAddrs) == 0) {
		return c, fmt.Errorf("%w: set exactly one of Addr and ClusterAddrs", ErrInvalid)
	}
	if c.Timeout <= 0 || c.Timeout > DefaultTimeout {
		c.Timeout = DefaultTimeout
	}
	if c.MaxBackoff <= 0 || c.MaxBackoff > DefaultMaxBackoff {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = DefaultHealthInterval
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// pingTimeout bounds the health PING so that degraded is reported within 2 s of Redis going
// silent: HealthInterval + pingTimeout ≤ 2 s with the defaults.
func (c RedisConfig) pingTimeout() time.Duration { return min(c.Timeout, time.Second) }

// nodeOptions are the options of a client to one server: every network step has a deadline,
// no retries (the caller's deadline is the budget), RESP2 (plain Pub/Sub framing).
func (c RedisConfig) nodeOptions(addr string) (*redis.Options, error) {
	o := &redis.Options{Addr: addr}
	if strings.Contains(addr, "://") {
		var err error
		if o, err = redis.ParseURL(addr); err != nil {
			return nil, fmt.Errorf("%w: redis URL: %w", ErrInvalid, err)
		}
	}
	d := c.pingTimeout()
	o.ClientName = c.Name
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = d, d, d
	o.PoolTimeout = c.Timeout // waiting for a pooled connection is bounded by the call's deadline
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.Protocol = 2
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return o, nil
}

// newUniversal returns the command client: a *redis.Client or a *redis.ClusterClient.
func (c RedisConfig) newUniversal() (redis.UniversalClient, error) {
	if c.Addr != "" {
		o, err := c.nodeOptions(c.Addr)
		if err != nil {
			return nil, err
		}
		return redis.NewClient(o), nil
	}
	d := c.pingTimeout()
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: c.ClusterAddrs, ClientName: c.Name,
		DialTimeout: d, ReadTimeout: d, WriteTimeout: d, PoolTimeout: c.Timeout,
		ContextTimeoutEnabled: true, MaxRetries: -1, MaxRedirects: 3, Protocol: 2, DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}), nil
}

// Slot is the Redis Cluster hash slot of a key or channel name: CRC16 (XMODEM) of its hash
// tag (the part between the first '{' and the next '}', if not empty) modulo 16384.
func Slot(name string) int {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		if j := strings.IndexByte(name[i+1:], '}'); j > 0 {
			name = name[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(name); k++ {
		crc ^= uint16(name[k]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// NewRedisClient returns a command client for c (a *redis.Client, or a *redis.ClusterClient
// with ClusterAddrs) with the substrate's deadlines: no retries, every step bounded by
// c.Timeout. server/app gives one to the checkpoint store.
func NewRedisClient(c RedisConfig) (redis.UniversalClient, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	return c.newUniversal()
}
