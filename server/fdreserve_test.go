package server

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fdChild runs in a child process (this test binary, re-executed): a server with a low
// RLIMIT_NOFILE and every spare descriptor taken, its address on stdout, until stdin closes.
func fdChild() {
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: 128, Max: 128})
	srv, err := New(Config{Secret: testSecret, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	srv.Serve(ln)
	var hog []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		hog = append(hog, f)
	}
	fmt.Println("ADDR", ln.Addr().String(), len(hog))
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// Out of file descriptors, a newcomer is answered 503 at once instead of waiting in the
// accept backlog.
func TestFDExhaustionAnswers503AtOnce(t *testing.T) {
	if os.Getenv("TICKRELAY_FD_CHILD") == "1" {
		fdChild()
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFDExhaustionAnswers503AtOnce$")
	cmd.Env = append(os.Environ(), "TICKRELAY_FD_CHILD=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("child: %q %v", line, err)
	}
	addr := strings.Fields(line)[1]
	for i := 0; i < 3; i++ {
		start := time.Now()
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		status, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			t.Fatalf("connection %d out of fds: no answer within 2 s (%v)", i, err)
		}
		if !strings.Contains(status, " 503 ") {
			t.Fatalf("connection %d out of fds: %q, want 503", i, status)
		}
		t.Logf("out of fds: %q after %v", strings.TrimSpace(status), time.Since(start).Round(time.Millisecond))
	}
}
