package stream

import (
	"fmt"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// localConnect is the Fiber local that carries a connection's tenant and
// query subscriptions across the upgrade: the WebSocket handler sees the
// request's locals, but only the last value of a repeated query parameter.
const localConnect = "taskpulse.stream.connect"

// liveWait bounds how long a connect request waits, at start, for the
// stream to follow the bus before it is turned away.
const liveWait = 10 * time.Second

type connectRequest struct {
	tenant string
	subs   querySubs
}

// Routes mounts GET /v1/stream on r, which must already run
// auth.Middleware.
func (s *Service) Routes(r fiber.Router) {
	r.Get("/v1/stream", s.accept, websocket.New(s.serve, websocket.Config{
		// Every idle connection holds its read buffer. Client messages are
		// small and rare, and a larger one is read in pieces; the buffer
		// only has to hold a control frame (at most 125 bytes) whole.
		ReadBufferSize: 256,
		// Write buffers are taken from a pool only while a message is
		// written, instead of one held by every idle connection.
		WriteBufferPool: &sync.Pool{},
		// The default recovery writes to the connection from the reader
		// goroutine while the writer may be writing too.
		RecoverHandler: s.recoverConn,
	}))
}

// accept checks a connect request before the upgrade, while a plain HTTP
// error can still be answered.
func (s *Service) accept(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		c.Set(fiber.HeaderUpgrade, "websocket")
		return httpx.NewError(fiber.StatusUpgradeRequired, CodeUpgradeRequired,
			"this endpoint speaks WebSocket only; connect with a WebSocket client")
	}
	if s.Ready(c.Context()) != nil {
		// Only while starting: no timer is made once the stream is live.
		wait := time.NewTimer(liveWait)
		defer wait.Stop()
		select {
		case <-s.live:
		case <-wait.C:
			c.Set(fiber.HeaderRetryAfter, "1")
			return httpx.NewError(fiber.StatusServiceUnavailable, CodeNotLive,
				"the stream is not yet following the bus; retry shortly")
		case <-c.Context().Done():
			return nil
		}
	}
	if err := httpx.OnlyQuery(c, connectParams...); err != nil {
		return err
	}
	subs, err := querySubscriptions(c)
	if err != nil {
		return err
	}
	if subs.count() > s.cfg.MaxSubscriptions {
		return httpx.BadParameter(subs.mostNamed(), fmt.Sprintf("and the other subscription parameters together name at most %d subscriptions", s.cfg.MaxSubscriptions))
	}
	c.Locals(localConnect, &connectRequest{tenant: auth.Tenant(c), subs: subs})
	return c.Next()
}

func (s *Service) recoverConn(*websocket.Conn) {
	if v := recover(); v != nil {
		s.log.Error("stream connection panicked", "panic", v)
	}
}
