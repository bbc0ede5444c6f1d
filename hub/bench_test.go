package hub_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rtchub/hub"
)

// raiseNoFile makes sure the process may hold need descriptors.
func raiseNoFile(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		lim.Max = need
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", need, err)
	}
	return nil
}

// BenchmarkFanout measures sending one shared, pre-encoded frame to every
// open stream (one stream per user, as for a group notify), over real
// loopback TCP connections whose clients read and discard. One op is one
// message fanned out to all subscribers; at most `window` messages are in
// flight, so the bounded queues never overflow and nothing is cut.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	const window = 32
	h := hub.New(hub.Options{MaxStreams: n + 1, QueueLen: 4096, Heartbeat: time.Hour, WriteTimeout: time.Minute})
	defer h.Close(0)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()

	// The clients read and discard in this process if it may hold both
	// ends of every connection, else in a child process (the test binary
	// again), so that each process needs only one end.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err := raiseNoFile(uint64(2*n + 512)); err == nil {
		for range n {
			cli, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatalf("dial: %v", err)
			}
			conns = append(conns, cli)
			go io.Copy(io.Discard, cli)
		}
	} else if err := raiseNoFile(uint64(n + 512)); err != nil {
		b.Skipf("cannot hold %d connections: %v", n, err)
	} else {
		stop := startClientProcess(b, ln.Addr().String(), n)
		defer stop()
	}
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user-%05d", i)
		srv, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, srv)
		s, err := h.Attach(users[i])
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(srv, replayOf([]byte("HTTP/1.1 200 OK\r\n\r\nretry: 2000\n\n"), nil)); err != nil {
			b.Fatal(err)
		}
	}
	frame := []byte(`id: 123456
event: message
data: {"id":"3f2a9c0e5b7d41a8c6e2f019","seq":123456,"message":{"text":"hello from the benchmark","n":42},"created_at":"2025-01-02T03:04:05.678Z"}

`)
	// One SendTo a message with every target, as a notify sends it: the
	// lock taken once, one Frame shared by all.
	marks := make([]atomic.Bool, n)
	targets := make([]hub.Target, n)
	for i, u := range users {
		targets[i] = hub.Target{User: u, Mark: &marks[i]}
	}
	per := uint64(n)
	var sent uint64
	runtime.GC()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		for h.Metrics.Delivered.Load()+window*per < (sent+1)*per {
			runtime.Gosched()
		}
		h.SendTo(targets, &hub.Frame{B: frame})
		sent++
	}
	deadline := time.Now().Add(time.Minute)
	for h.Metrics.Delivered.Load() < sent*per {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d events delivered", h.Metrics.Delivered.Load(), sent*per)
		}
		runtime.Gosched()
	}
	elapsed := time.Since(start)
	if cut := h.Metrics.Cut.Load(); cut != 0 {
		b.Fatalf("%d streams cut during the benchmark", cut)
	}
	b.ReportMetric(float64(sent*per)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(len(frame)*int(sent)*n)/elapsed.Seconds()/1e6, "MB/s")
}

const clientEnv = "RTCHUB_HUB_BENCH_CLIENTS" // "addr n": run as the client process

// startClientProcess runs this test binary as a process that dials n
// connections to addr and discards what they read, until stop.
func startClientProcess(b *testing.B, addr string, n int) (stop func()) {
	b.Logf("fd limit too low for both ends of %d connections in one process: clients run in a child process", n)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFanoutClientProcess$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", clientEnv, addr, n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Skipf("cannot start the client process: %v", err)
	}
	return func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

// TestFanoutClientProcess is BenchmarkFanout's client side when it runs in
// a process of its own; otherwise it is skipped.
func TestFanoutClientProcess(t *testing.T) {
	spec := os.Getenv(clientEnv)
	if spec == "" {
		t.Skip("helper process for BenchmarkFanout")
	}
	var addr string
	var n int
	if _, err := fmt.Sscan(spec, &addr, &n); err != nil {
		t.Fatalf("bad %s=%q: %v", clientEnv, spec, err)
	}
	if err := raiseNoFile(uint64(n + 512)); err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
		go io.Copy(io.Discard, c)
	}
	io.Copy(io.Discard, os.Stdin) // until the benchmark is done
	for _, c := range conns {
		c.Close()
	}
}
