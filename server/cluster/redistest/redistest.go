// Package redistest starts Debian's redis-server for tests and tools: a standalone server on a
// free 127.0.0.1 port without persistence, or an N-master Redis Cluster built with
// redis-cli --cluster create; each process is stopped by its PID, and fault helpers freeze
// (SIGSTOP), thaw (SIGCONT), kill -9 and restart it on the same port.
//
// Start and StartCluster fail the test (t.Fatal) when redis-server is missing: tests that
// need Redis never skip. `make deps` installs it.
//
// A Server's methods are safe for concurrent use. Processes get SIGKILL if the test binary
// dies (Pdeathsig), so a crashed test leaves none behind.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of Debian's binaries (package redis-server, redis-tools).
var (
	ServerBinary = "/usr/bin/redis-server"
	CLIBinary    = "/usr/bin/redis-cli"
)

// ReadyTimeout bounds how long a start or restart waits for PING to answer.
const ReadyTimeout = 10 * time.Second

// Server is one redis-server process.
type Server struct {
	Addr string // 127.0.0.1:port
	Port int
	Dir  string // working directory (cluster config); removed by Stop

	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd's process has exited
	log    *tailBuffer
}

// Options configure Run. The zero value is a standalone server.
type Options struct {
	Cluster bool     // --cluster-enabled yes (with its own cluster bus port)
	Args    []string // extra redis-server arguments, e.g. "--maxmemory", "10mb"
}

// Start runs a standalone redis-server for t and stops it when t ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s, err := Run(Options{Args: args})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// Run starts a redis-server on a free port and waits until it answers PING.
func Run(o Options) (*Server, error) {
	if _, err := os.Stat(ServerBinary); err != nil {
		return nil, fmt.Errorf("redis-server is required (apt-get install redis-server, or make deps): %w", err)
	}
	var last error
	for attempt := 0; attempt < 5; attempt++ { // a free port can be taken between probe and bind
		s, err := runOnce(o)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func runOnce(o Options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", "", "--loglevel", "notice", "--protected-mode", "no",
		"--enable-debug-command", "local"}
	if o.Cluster {
		bus, err := freePort()
		if err != nil {
			return nil, err
		}
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus), "--cluster-node-timeout", "2000")
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, Dir: dir,
		args: append(args, o.Args...), log: &tailBuffer{max: 64 << 10}}
	if err := s.start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start launches the process with s.args and waits for PING.
func (s *Server) start() error {
	cmd := exec.Command(ServerBinary, s.args...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(ReadyTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited: %s", s.Addr, s.log.String())
		default:
		}
		if _, err := s.Do("PING"); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on %s not ready after %v: %s", s.Addr, ReadyTimeout, s.log.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a process we do not control, not test sync
	}
}

// PID is the running process' id (0 when none).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return errors.New("redistest: not running")
	}
	return cmd.Process.Signal(sig)
}

// Freeze sends SIGSTOP: the process keeps its sockets but answers nothing.
func (s *Server) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw sends SIGCONT after Freeze.
func (s *Server) Thaw() error { return s.signal(syscall.SIGCONT) }

// Kill sends SIGKILL (kill -9) and waits until the process is gone. Its data is lost.
func (s *Server) Kill() error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	return nil
}

// Restart starts the server again on the same port (after Kill) and waits for PING. A cluster
// node keeps its identity and slots (nodes.conf in Dir); data is gone (no persistence).
func (s *Server) Restart() error {
	if s.PID() != 0 {
		return errors.New("redistest: restart of a running server (Kill it first)")
	}
	var err error
	for attempt := 0; attempt < 50; attempt++ { // the old socket may linger for a moment
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Stop kills the process and removes its directory.
func (s *Server) Stop() error {
	err := s.Kill()
	_ = os.RemoveAll(s.Dir)
	return err
}

// Log returns the tail of the server's log.
func (s *Server) Log() string { return s.log.String() }

// Do sends one command over a fresh connection with a 2 s deadline and returns the reply as
// text (arrays are joined with newlines; an error reply is returned as an error).
func (s *Server) Do(args ...string) (string, error) {
	return s.DoTimeout(2*time.Second, args...)
}

// DoTimeout is Do with another deadline (DEBUG SLEEP needs more than 2 s).
func (s *Server) DoTimeout(d time.Duration, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, d)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(c))
}

// readReply reads one RESP2 reply.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("redistest: empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, max(n, 0))
		for i := 0; i < n; i++ {
			p, err := readReply(r)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("redistest: unexpected reply %q", line)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
