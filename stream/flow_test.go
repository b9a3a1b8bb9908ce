package stream

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
)

// smallBuffers dials with a fixed receive buffer, so that a client that
// does not read stalls its connection after a few large events rather than
// after the tens of megabytes the kernel would otherwise buffer. It stays
// larger than a loopback segment, or reading would crawl.
var smallBuffers = &fws.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
	conn, err := net.Dial(network, addr)
	if err == nil {
		err = conn.(*net.TCPConn).SetReadBuffer(256 << 10)
	}
	return conn, err
}}

// A client that never reads does not hold back one that does: the fast
// one gets every event in order, while the slow one's queue coalesces.
func TestSlowReaderDoesNotHoldBackFastOne(t *testing.T) {
	b := newTestBus()
	// A long write wait keeps the slow client connected, blocked in a
	// write, for the whole test.
	h := start(t, Config{QueueSize: 4, WriteWait: time.Minute}, b, &fixedStore{
		tasks: []store.Task{task(tenantA, "t1", "", 1, 0)},
	})
	h.dialWith(t, smallBuffers, "api_key="+keyA+"&task_id=t1")
	fast := h.dial(t, "api_key="+keyA+"&task_id=t1")
	readType(t, fast, TypeSnapshot)
	waitSubscriptions(t, h, 2)

	const n = 100
	padding := strings.Repeat("x", 128<<10)
	for i := range n {
		ev := progress(tenantA, "t1", "", int64(1000+i), 0, fmt.Sprint(i))
		ev.CurrentStep = padding
		b.publish(t, ev)
		require.Equal(t, fmt.Sprint(i), readProgress(t, fast))
	}
	require.Positive(t, dropped(h.svc, reasonCoalesced))
	require.Zero(t, dropped(h.svc, reasonSlowConsumer))
	require.Equal(t, 2.0, value(h.svc.metrics.connections))
}

// A peer that stops answering pings is closed after PongWait; a live one
// on the same server keeps receiving.
func TestDeadPeerIsClosed(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{PingInterval: 20 * time.Millisecond, PongWait: 100 * time.Millisecond}, b, &fixedStore{})
	// Pongs are sent by the client library while it reads, so a client
	// that never reads is dead to the server.
	h.dial(t, "api_key="+keyA+"&task_id=t1")
	alive := h.dial(t, "api_key="+keyA+"&task_id=t1")
	received := make(chan serverMsg, 10)
	go func() {
		defer close(received)
		for {
			_, data, err := alive.ReadMessage()
			if err != nil {
				return
			}
			m := serverMsg{}
			if json.Unmarshal(data, &m) == nil {
				received <- m
			}
		}
	}()
	require.Equal(t, TypeSnapshot, (<-received).Type)

	require.Eventually(t, func() bool { return value(h.svc.metrics.connections) == 1 }, 10*time.Second, time.Millisecond)
	b.publish(t, progress(tenantA, "t1", "", 1000, 0, "still here"))
	m := <-received
	require.Equal(t, TypeProgress, m.Type)
	require.Equal(t, "still here", m.Event.Message)
	require.Equal(t, 1.0, value(h.svc.metrics.subscriptions))
	alive.Close()
	for range received {
	}
}

// When Run ends, every connection is closed with 1001 (going away).
func TestRunClosesConnections(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{}, b, &fixedStore{})
	conn := h.dial(t, "api_key="+keyA+"&all=true")
	readType(t, conn, TypeSnapshot)

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		h.stop()
	}()
	_, _, err := conn.ReadMessage()
	<-stopped
	require.True(t, fws.IsCloseError(err, fws.CloseGoingAway), "%v", err)
	require.Zero(t, value(h.svc.metrics.connections))
	require.Zero(t, value(h.svc.metrics.subscriptions))
}

// A connection that cannot keep up even after coalescing (more distinct
// tasks than its queue holds) is closed with CloseSlowConsumer.
func TestSlowConsumerIsClosed(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{QueueSize: 2, MaxQueuedTasks: 2, WriteWait: time.Minute}, b, &fixedStore{})
	conn := h.dialWith(t, smallBuffers, "api_key="+keyA+"&all=true")
	waitSubscriptions(t, h, 1)

	padding := strings.Repeat("x", 128<<10)
	for i := 0; dropped(h.svc, reasonSlowConsumer) == 0; i++ {
		ev := progress(tenantA, fmt.Sprint("t", i), "", 1000, 0, "")
		ev.CurrentStep = padding
		b.publish(t, ev)
	}
	for {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		if _, _, err := conn.ReadMessage(); err != nil {
			require.True(t, fws.IsCloseError(err, CloseSlowConsumer), "%v", err)
			break
		}
	}
}

// An idle connection keeps no writer: one starts for what there is to
// send, a ping included, and ends once it is sent.
func TestIdleConnectionsHoldNoWriter(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{PingInterval: 20 * time.Millisecond, PongWait: time.Minute}, b, &fixedStore{})
	conns := make([]*fws.Conn, 5)
	pinged := make(chan struct{}, len(conns))
	for i := range conns {
		conns[i] = h.dial(t, "api_key="+keyA+"&task_id=t1")
		readType(t, conns[i], TypeSnapshot)
		conns[i].SetPingHandler(func(string) error {
			select {
			case pinged <- struct{}{}:
			default:
			}
			return nil
		})
	}
	b.publish(t, progress(tenantA, "t1", "", 1000, 0, "sent"))
	for _, conn := range conns {
		// Reading also runs the ping handler, so pings keep coming.
		require.Equal(t, "sent", readProgress(t, conn))
		go func() {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	for range conns {
		<-pinged
	}
	writing := func() (n int) {
		h.svc.mu.Lock()
		defer h.svc.mu.Unlock()
		for c := range h.svc.clients {
			c.mu.Lock()
			if c.writing {
				n++
			}
			c.mu.Unlock()
		}
		return n
	}
	require.Eventually(t, func() bool { return writing() == 0 }, 10*time.Second, time.Millisecond)
}
