package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/storetest"
)

// outage is a TCP proxy in front of a database that can take it away: while down it
// resets every connection it carries and every new one, as a stopped server does for
// its clients, without stopping the shared test database other tests use.
type outage struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

// newOutage proxies a free loopback port to target (host:port) until the test ends.
func newOutage(t *testing.T, target string) *outage {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &outage{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); o.set(true) })
	go o.accept()
	return o
}

func (o *outage) addr() string { return o.ln.Addr().String() }

func (o *outage) accept() {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		go o.carry(c)
	}
}

// carry pipes c to the target both ways, or resets it while the outage lasts.
func (o *outage) carry(c net.Conn) {
	o.mu.Lock()
	down := o.down
	o.mu.Unlock()
	if down {
		reset(c)
		return
	}
	up, err := net.Dial("tcp", o.target)
	if err != nil {
		reset(c)
		return
	}
	o.mu.Lock()
	if o.down { // it began while we dialled
		o.mu.Unlock()
		reset(c)
		reset(up)
		return
	}
	o.conns[c], o.conns[up] = true, true
	o.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	reset(c)
	reset(up)
	o.mu.Lock()
	delete(o.conns, c)
	delete(o.conns, up)
	o.mu.Unlock()
}

// reset closes c with a TCP reset, as a dead server's host answers.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// set starts (true) or ends the outage; starting it resets every open connection.
func (o *outage) set(down bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = down
	if down {
		for c := range o.conns {
			reset(c)
		}
	}
}

// viaProxy is rawURL with its host and port replaced by addr.
func viaProxy(t *testing.T, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

func hostPort(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// streamDuring delivers batches from two retrying clients, each pausing pace between
// batches, and runs during once a third of the events are acknowledged; it returns what
// was acknowledged.
func streamDuring(t *testing.T, collector func() string, batches [][]event.Event, pace time.Duration, during func()) *acked {
	t.Helper()
	var a acked
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	errs := make(chan error, 2)
	half := len(batches) / 2
	for _, part := range [][][]event.Event{batches[:half], batches[half:]} {
		go func() { errs <- deliverAllTo(ctx, collector, part, pace, &a) }()
	}
	var sent int
	for _, b := range batches {
		sent += len(b)
	}
	for int(total(a.counts())) < sent/3 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	during()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return &a
}

// deliverAllTo is deliverAll to whichever server process collector names at the time,
// pausing pace after each acknowledged batch.
func deliverAllTo(ctx context.Context, collector func() string, batches [][]event.Event, pace time.Duration, a *acked) error {
	for _, b := range batches {
		for postBatch(collector(), b, 10*time.Second)/100 != 2 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("batch not acknowledged: %w", ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
		a.add(b)
		time.Sleep(pace)
	}
	return nil
}

// PostgreSQL goes away for 40 s in the middle of a stream: the server answers 503 and the
// clients retry; afterwards acknowledged = PostgreSQL = ClickHouse, per session.
func TestFaultPostgresDown40s(t *testing.T) {
	pg, ch := migratedTeam(t)
	proxy := newOutage(t, hostPort(t, pg))
	p := newPorts(t)
	srv := startServerProc(t, viaProxy(t, pg, proxy.addr()), ch, p)
	batches := batchesOf(storetest.Generate(24, 20, 150), 50) // 3,000 events
	a := streamDuring(t, func() string { return srv.collector }, batches, 0, func() {
		proxy.set(true)
		time.Sleep(5 * time.Second)
		var ready map[string]any
		if code := getJSONStatus(t, srv.api+"/readyz", &ready); code != http.StatusServiceUnavailable {
			t.Errorf("readyz with PostgreSQL down: HTTP %d %v, want 503", code, ready)
		}
		time.Sleep(35 * time.Second)
		proxy.set(false)
	})
	mustAgree(t, pg, ch, a)
	srv.stop(t)
}

// ClickHouse goes away for 60 s in the middle of a stream, and the server is stopped
// (SIGTERM) and started again meanwhile: ingest goes on throughout, and once ClickHouse
// is back acknowledged = PostgreSQL = ClickHouse, per session.
func TestFaultClickHouseStopped60s(t *testing.T) {
	pg, ch := migratedTeam(t)
	proxy := newOutage(t, hostPort(t, ch))
	chVia := viaProxy(t, ch, proxy.addr())
	p := newPorts(t)
	var mu sync.Mutex
	srv := startServerProc(t, pg, chVia, p)
	current := func() string { mu.Lock(); defer mu.Unlock(); return srv.collector }
	// Paced to last about 45 s, so that events arrive before the outage, during it, on
	// both sides of the restart, and after.
	batches := batchesOf(storetest.Generate(25, 20, 150), 10) // 3,000 events
	a := streamDuring(t, current, batches, 300*time.Millisecond, func() {
		proxy.set(true)
		time.Sleep(20 * time.Second)
		mu.Lock()
		srv.stop(t)
		srv = startServerProc(t, pg, chVia, p)
		mu.Unlock()
		var ready struct{ Status string }
		if getJSONStatus(t, srv.api+"/readyz", &ready); ready.Status != "degraded" {
			t.Errorf("readyz after a restart with ClickHouse down = %q, want degraded", ready.Status)
		}
		time.Sleep(40 * time.Second)
		proxy.set(false)
	})
	mustAgree(t, pg, ch, a)
	srv.stop(t)
}
