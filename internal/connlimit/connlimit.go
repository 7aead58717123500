// Package connlimit bounds the connections a listener holds open: in total, and from one
// client address. Without a bound, one client opening connections faster than they end
// (slow requests, idle keep-alives) exhausts the process's file descriptors and takes
// every listener down with it.
package connlimit

import (
	"net"
	"sync"
)

// Listener wraps a net.Listener. At Total connections, Accept waits for one to close
// before taking the next (the kernel's backlog holds the rest); a connection from an
// address that already holds PerClient is closed at once.
type Listener struct {
	net.Listener
	slots     chan struct{}
	perClient int

	mu    sync.Mutex
	byKey map[string]int

	done      chan struct{} // closed by Close: an Accept waiting for a slot returns
	closeOnce sync.Once
}

// New bounds ln to total connections, and perClient from one address (0: no per-client
// bound).
func New(ln net.Listener, total, perClient int) *Listener {
	return &Listener{Listener: ln, slots: make(chan struct{}, total), perClient: perClient, byKey: map[string]int{},
		done: make(chan struct{})}
}

// Close closes the listener; an Accept waiting for a slot returns at once, so a server's
// shutdown is not held up by connections it is about to close.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Accept returns the next connection within the bounds.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		if !l.admit(key) {
			c.Close()
			<-l.slots
			continue
		}
		return &conn{Conn: c, release: func() { l.leave(key); <-l.slots }}, nil
	}
}

func (l *Listener) admit(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perClient > 0 && l.byKey[key] >= l.perClient {
		return false
	}
	l.byKey[key]++
	return true
}

func (l *Listener) leave(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byKey[key]--; l.byKey[key] <= 0 {
		delete(l.byKey, key)
	}
}

// clientKey is the address's host: the ports of one client's connections differ.
func clientKey(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
