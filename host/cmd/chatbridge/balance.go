package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runBalance is `chatbridge balance`: a TCP round-robin balancer for the
// local cluster (make run-cluster), so that messengers and Jira reach
// several host nodes at one public URL, as a load balancer would in
// production. TLS passes through to the nodes; a node that refuses a
// connection is skipped.
func runBalance(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("balance", stderr)
	listen := fs.String("listen", devListen, "address to accept connections on")
	to := fs.String("to", "", "the nodes' public addresses, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var nodes []string
	for _, n := range strings.Split(*to, ",") {
		if n = strings.TrimSpace(n); n != "" {
			nodes = append(nodes, n)
		}
	}
	if len(nodes) == 0 {
		return errors.New("-to is required: the nodes' addresses")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); ln.Close() }()
	fmt.Fprintf(stdout, "balancing %s over %s\n", ln.Addr(), strings.Join(nodes, ", "))
	err = balance(ln, nodes, slog.New(slog.NewJSONHandler(stderr, nil)))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// balance accepts connections on ln until it is closed and pipes each to
// the next node that accepts it.
func balance(ln net.Listener, nodes []string, log *slog.Logger) error {
	var next atomic.Uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			start := next.Add(1)
			for i := range nodes {
				node := nodes[(start+uint64(i))%uint64(len(nodes))]
				up, err := net.DialTimeout("tcp", node, 2*time.Second)
				if err != nil {
					continue // down: the next one
				}
				pipe(c, up)
				return
			}
			log.Warn("balance: no node accepted a connection")
		}()
	}
}

// pipe copies both ways until both directions are done.
func pipe(a, b net.Conn) {
	defer b.Close()
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go half(a, b)
	go half(b, a)
	wg.Wait()
}
