// Command floor runs the transport floor (bench/floor): a minimal gws server with arena's
// connection and message pattern but no game logic, so that its CPU, read from /proc, is the
// transport's own cost. The load generator builds and starts it for -scenario floor.
//
//	go run ./bench/cmd/floor --listen 127.0.0.1:8090
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/tickrelay/tickrelay/bench/floor"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to serve HTTP and /ws on (loopback only)")
	tick := flag.Duration("tick", 50*time.Millisecond, "match tick interval")
	maxRuntime := flag.Duration("max-runtime", 0, "exit by itself after this long (0: run until signalled)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	log.SetPrefix("floor: ")
	log.SetFlags(log.Ltime | log.Lmicroseconds)

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("bad --listen: %v", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Fatalf("--listen %s: the floor only serves on a loopback address", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	srv := floor.New(floor.Config{Tick: *tick})
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *maxRuntime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *maxRuntime)
		defer cancel()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Printf("listening on %s (pid %d)", ln.Addr(), os.Getpid())

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx) // hijacked WebSocket connections are not tracked by Shutdown
	srv.Close()
	log.Printf("stopped")
}
