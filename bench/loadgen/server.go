package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultArgs are the argument templates for the servers this package starts. {addr} is the
// 127.0.0.1 port picked for the run, {admin} a second one for the admin listener, {maxrt} how
// long the server may run before it stops by itself.
var DefaultArgs = map[string]string{
	TargetFloor:     "--listen {addr} --max-runtime {maxrt}",
	TargetEpoll:     "--listen {addr} --max-runtime {maxrt} --epoll",
	TargetTickrelay: "--listen {addr} --admin {admin} --public-metrics --guest-rate=-1 --max-conns-per-ip=-1",
}

// packages built for each target
var targetPkg = map[string]string{
	TargetFloor:     "./bench/cmd/floor",
	TargetEpoll:     "./bench/cmd/floor",
	TargetTickrelay: "./server/cmd/tickrelay",
}

// Server is the server a run targets: started by us (Cmd set) or external.
type Server struct {
	Addr    string // host:port
	PID     int    // 0 when unknown (external without -server-pid)
	Target  string
	LogPath string

	cmd    *exec.Cmd
	exited chan struct{}
	logF   *os.File
}

// BuildServer builds the target's binary into dir and returns its path.
func BuildServer(ctx context.Context, repo, target, dir string) (string, error) {
	pkg, ok := targetPkg[target]
	if !ok {
		return "", fmt.Errorf("nothing to build for target %q", target)
	}
	if _, err := os.Stat(filepath.Join(repo, pkg)); err != nil {
		return "", fmt.Errorf("%s does not exist yet (%v): the server is not written; use -scenario floor, -target floor, or -addr", pkg, err)
	}
	bin := filepath.Join(dir, target)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// FreePort returns a 127.0.0.1 address with a port that was free a moment ago.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// StartServer starts bin (with env added to this process's environment) with the expanded
// argument template on a free loopback port and waits
// until it answers GET /healthz with 200 (or, if it has no /healthz, accepts TCP). The server
// gets SIGKILL if this process dies (Pdeathsig) and stops by itself after maxRuntime when its
// arguments take {maxrt}.
func StartServer(ctx context.Context, bin, target, argTmpl, logDir string, env []string, maxRuntime time.Duration) (*Server, error) {
	addr, err := FreePort()
	if err != nil {
		return nil, err
	}
	admin, err := FreePort()
	if err != nil {
		return nil, err
	}
	r := strings.NewReplacer("{addr}", addr, "{admin}", admin, "{maxrt}", maxRuntime.String())
	args := strings.Fields(r.Replace(argTmpl))

	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(logDir, "server-"+target+".log")
	logF, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logF, logF
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logF.Close()
		return nil, err
	}
	s := &Server{Addr: addr, PID: cmd.Process.Pid, Target: target, LogPath: logPath, cmd: cmd, exited: make(chan struct{}), logF: logF}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(ctx, 20*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%s did not become ready: %v (log: %s)\n%s", target, err, logPath, tail(logPath, 2000))
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	url := "http://" + s.Addr + "/healthz"
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound {
				return nil // 404: no /healthz, but it accepts TCP and speaks HTTP
			}
			last = fmt.Errorf("GET /healthz: %s", resp.Status)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v: %v", limit, last)
}

// Alive reports whether a started server is still running (external ones: always true).
func (s *Server) Alive() bool {
	if s.cmd == nil {
		return true
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Exited is closed when a server this package started has exited (nil for an external one).
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop ends a server this package started, by its pid: SIGTERM, then SIGKILL after 3 s.
// External servers are left alone.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	if s.Alive() {
		_ = syscall.Kill(s.PID, syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(s.PID, syscall.SIGKILL)
			<-s.exited
		}
	}
	if s.logF != nil {
		s.logF.Close()
		s.logF = nil
	}
}

func tail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}
