//go:build !linux

package loadgen

import "errors"

// The epoll clients need Linux; elsewhere -client gws is the only choice (Normalize says so).

type pool struct{ s *sender }

type pconn struct{}

const havePool = false

func newPool(*run) (*pool, error) { return nil, errors.New("-client epoll needs Linux") }

func (p *pool) add(*client, bool) error { return errors.New("-client epoll needs Linux") }

func (p *pool) loop(<-chan struct{}) {}

func (p *pool) closeAll() {}

func (s *rawSetup) detach() (int, []byte, error) {
	return -1, nil, errors.New("-client epoll needs Linux")
}
