package stream

import (
	"errors"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/contrib/websocket"
)

// closeGrace bounds writing the close frame and then waiting for the
// peer's answer before the reader is stopped: stopping at once could reset
// the connection before the peer has read the frame.
const closeGrace = time.Second

// maxClientMessage bounds one client message; subscriptions are small.
const maxClientMessage = 4 << 10

// serve runs one connection. It is the reader; a writer goroutine, the
// only one that writes, runs only while there is something to write, so
// an idle connection costs one goroutine. serve returns only after the
// writer has finished, because the connection is recycled as soon as it
// returns.
func (s *Service) serve(conn *websocket.Conn) {
	req, _ := conn.Locals(localConnect).(*connectRequest)
	if req == nil {
		panic("BUG: stream connection without its connect request")
	}
	// The locals live as long as the connection; the request is read once.
	conn.Locals(localConnect, nil)
	c := newClient(s, conn, req.tenant)
	if !s.register(c) {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(s.cfg.WriteWait))
		return
	}
	defer s.unregister(c)

	conn.SetReadLimit(maxClientMessage)
	// The library's own handlers would answer pings and closes from this
	// goroutine; the writer answers them instead.
	conn.SetCloseHandler(func(int, string) error { return nil })
	conn.SetPingHandler(func(data string) error {
		c.answerPing(data)
		return c.extendRead()
	})
	conn.SetPongHandler(func(string) error { return c.extendRead() })

	code, text := websocket.CloseNormalClosure, ""
	// Deferred so that even a panic below stops the writer before the
	// connection is recycled.
	defer func() {
		close(c.readerDone)
		c.end(code, text)
		c.writers.Wait()
	}()

	for _, sub := range req.subs.progress {
		c.subscribe(sub)
	}
	for _, sub := range req.subs.logs {
		c.subscribeLogs(sub)
	}
	for _, sub := range req.subs.notifications {
		c.subscribeNotifications(sub)
	}
	for _, sub := range req.subs.controls {
		c.subscribeControl(sub)
	}
	if err := c.readLoop(); errors.Is(err, fws.ErrReadLimit) {
		code, text = websocket.CloseMessageTooBig, "a message is at most 4 KiB"
	}
}

// readLoop handles client messages until the connection fails, the peer
// closes it, or it stays silent past PongWait.
func (c *client) readLoop() error {
	for {
		if err := c.extendRead(); err != nil {
			return err
		}
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return err
		}
		if m, err := parseClientMessage(data); err != nil {
			c.send(encodeError(err))
		} else {
			c.apply(m)
		}
	}
}

// extendRead gives the peer another PongWait: anything it sends proves it
// is alive. Once the connection is stopping, it ends the read at once
// instead.
func (c *client) extendRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline := time.Now()
	if !c.stopped {
		deadline = deadline.Add(c.svc.cfg.PongWait)
	}
	return c.conn.SetReadDeadline(deadline)
}

// startWriter starts the writer unless it runs; once the connection is
// stopped, the writer that sends the close frame is the last. c.mu is
// held.
func (c *client) startWriter() {
	if c.writing {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.writeLoop()
}

// writeLoop is the connection's only writer: queued messages, pings,
// pongs and the close frame. It returns once nothing is left to write.
func (c *client) writeLoop() {
	defer c.writers.Done()
	for {
		c.mu.Lock()
		stopped := c.stopped
		batch := c.appendLogsDropped(c.out.take())
		pong, ping := c.pong, c.pingDue
		c.pong, c.pingDue = nil, false
		if !stopped && len(batch) == 0 && pong == nil && !ping {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if stopped {
			c.sendClose()
			return
		}
		if err := c.flush(batch, pong, ping); err != nil {
			c.lost(err)
			return
		}
	}
}

// flush writes a pong, a ping and batch, until the connection stops.
func (c *client) flush(batch []message, pong *string, ping bool) error {
	if pong != nil {
		if err := c.conn.WriteControl(websocket.PongMessage, []byte(*pong), c.writeDeadline()); err != nil {
			return err
		}
	}
	if ping {
		if err := c.conn.WriteControl(websocket.PingMessage, nil, c.writeDeadline()); err != nil {
			return err
		}
	}
	for _, m := range batch {
		if c.stopping() {
			return nil
		}
		if err := c.write(m.bytes()); err != nil {
			return err
		}
		c.svc.metrics.sent.Inc()
	}
	return nil
}

// sendClose writes the close frame and waits briefly for the peer's
// answer, so that the peer reads the frame before the connection drops.
func (c *client) sendClose() {
	c.mu.Lock()
	code, text := c.closeCode, c.closeText
	c.mu.Unlock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(closeGrace))
	grace := time.NewTimer(closeGrace)
	defer grace.Stop()
	select {
	case <-c.readerDone:
	case <-grace.C:
		c.unblockReader()
	}
}

func (c *client) stopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

func (c *client) write(frame []byte) error {
	if err := c.conn.SetWriteDeadline(c.writeDeadline()); err != nil {
		return err
	}
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

func (c *client) writeDeadline() time.Time {
	return time.Now().Add(c.svc.cfg.WriteWait)
}

// lost stops a connection whose write failed: nothing more can be sent,
// so the reader is stopped too.
func (c *client) lost(err error) {
	c.svc.log.Debug("stream connection lost", "tenant", c.tenant, "err", err)
	c.end(websocket.CloseAbnormalClosure, "")
	c.unblockReader()
}

// unblockReader ends a read in progress. Closing the connection would
// not: the server owns a hijacked connection until the handler returns.
// Deadlines are safe to set from any goroutine, and extendRead keeps this
// one once the connection is stopping.
func (c *client) unblockReader() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.NetConn().SetReadDeadline(time.Now())
}
