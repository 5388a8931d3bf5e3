// Command floor runs a transport floor (bench/floor): a server with arena's connection and
// message pattern but no game logic, so that its CPU, read from /proc, is the transport's own
// cost. By default the gws floor (a minimal gws server, a goroutine per connection); with
// --epoll the epoll floor (one goroutine, an epoll loop, raw system calls, GOMAXPROCS 1). The
// load generator builds and starts it for -scenario floor (-target floor or -target epoll).
//
//	go run ./bench/cmd/floor --listen 127.0.0.1:8090
//	go run ./bench/cmd/floor --listen 127.0.0.1:8090 --epoll
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
	"runtime"
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
	epoll := flag.Bool("epoll", false, "serve with the epoll floor: one goroutine, raw system calls, GOMAXPROCS 1")
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
	if *epoll {
		runEpoll(*listen, *tick, *maxRuntime, *cpuProfile)
		return
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

// runEpoll serves the epoll floor on this goroutine until SIGTERM/SIGINT or maxRuntime.
func runEpoll(listen string, tick, maxRuntime time.Duration, cpuProfile string) {
	runtime.GOMAXPROCS(1)
	srv, err := floor.ListenEpoll(listen, floor.Config{Tick: tick})
	if err != nil {
		log.Fatal(err)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	start := time.Now()
	log.Printf("epoll floor listening on %s (pid %d)", srv.Addr(), os.Getpid())
	err = srv.Run(func() bool {
		select {
		case <-sig:
			return true
		default:
		}
		return maxRuntime > 0 && time.Since(start) > maxRuntime
	})
	srv.Close()
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("stopped")
}
