package connlimit_test

import (
	"net"
	"testing"
	"time"

	"github.com/agent-trace/agent-trace/internal/connlimit"
)

// serve accepts on l and holds every connection open until the test ends, reporting each.
func serve(t *testing.T, l net.Listener) <-chan net.Conn {
	t.Helper()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { l.Close() })
	return accepted
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTotalBoundWaitsForAClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := serve(t, connlimit.New(ln, 2, 0))
	for range 3 {
		dial(t, ln.Addr().String())
	}
	var held []net.Conn
	for range 2 {
		select {
		case c := <-accepted:
			held = append(held, c)
		case <-time.After(2 * time.Second):
			t.Fatal("the first two connections were not accepted")
		}
	}
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted over the bound of 2")
	case <-time.After(200 * time.Millisecond):
	}
	held[0].Close()
	held[0].Close() // a second Close gives nothing back twice
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
}

func TestPerClientBoundClosesTheExcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := serve(t, connlimit.New(ln, 10, 1))
	dial(t, ln.Addr().String())
	<-accepted
	extra := dial(t, ln.Addr().String())
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("a second connection from one address was not closed: %v", err)
	}
	select {
	case <-accepted:
		t.Fatal("the excess connection reached the server")
	default:
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// Closing a full listener ends an Accept that waits for a slot: http.Server.Shutdown
// closes the listener and then waits for Serve to return.
func TestCloseEndsAWaitingAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := connlimit.New(ln, 1, 0)
	dial(t, ln.Addr().String())
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	returned := make(chan error, 1)
	go func() {
		_, err := l.Accept() // no slot left: waits
		returned <- err
	}()
	time.Sleep(100 * time.Millisecond)
	l.Close()
	select {
	case err := <-returned:
		if err == nil {
			t.Fatal("Accept after Close returned a connection")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept still waits for a slot after Close")
	}
}
