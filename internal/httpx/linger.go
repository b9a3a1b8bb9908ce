package httpx

import (
	"io"
	"net"
	"sync"
	"time"
)

// LingeringListener wraps ln so that closing an accepted connection first
// shuts down its sending side, then reads and drops what the client still
// sends, for at most linger or max bytes, and only then closes it.
//
// The server refuses a body over the limit without reading it. Closed at
// once, the connection would still hold unread bytes, and the kernel
// answers those with a reset that can destroy the 413 before the client
// reads it (what nginx's lingering_close avoids, too).
func LingeringListener(ln net.Listener, linger time.Duration, max int64) net.Listener {
	return &lingeringListener{Listener: ln, linger: linger, max: max}
}

type lingeringListener struct {
	net.Listener
	linger time.Duration
	max    int64
}

func (l *lingeringListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return &lingeringConn{TCPConn: tc, linger: l.linger, max: l.max}, nil
}

type lingeringConn struct {
	*net.TCPConn
	linger time.Duration
	max    int64
	once   sync.Once
}

func (c *lingeringConn) Close() error {
	c.once.Do(func() {
		if c.CloseWrite() != nil || c.SetReadDeadline(time.Now().Add(c.linger)) != nil {
			c.TCPConn.Close()
			return
		}
		go func() {
			_, _ = io.CopyN(io.Discard, c.TCPConn, c.max)
			c.TCPConn.Close()
		}()
	})
	return nil
}
