package stream

import (
	"errors"
	"time"
)

// Config tunes the WebSocket hub. New fills zero fields with the defaults
// below, so a zero Config is a working one.
type Config struct {
	// QueueSize bounds the messages waiting to be written to one
	// connection before progress is coalesced to the latest event per
	// task and logs are dropped (the client is told how many).
	QueueSize int
	// MaxQueuedTasks bounds the queue once it coalesces: a client that
	// follows more busy tasks than this and cannot keep up is closed
	// (CloseSlowConsumer) and reconnects to a fresh snapshot. It is larger
	// than QueueSize so that a dashboard following every task of a busy
	// tenant only sees fewer updates, not a closed connection.
	MaxQueuedTasks int
	// PingInterval is how often the server pings each connection.
	PingInterval time.Duration
	// PongWait is how long a connection may stay silent (no pong, no
	// message) before it is treated as dead and closed. It also bounds one
	// snapshot query.
	PongWait time.Duration
	// WriteWait bounds one write to a connection.
	WriteWait time.Duration
	// MaxSubscriptions caps the subscriptions of one connection, to
	// progress, logs and notifications together.
	MaxSubscriptions int
	// SnapshotLimit caps the tasks of one snapshot; a snapshot that hit it
	// says "truncated": true.
	SnapshotLimit int
}

// Defaults used by New for zero fields.
const (
	DefaultQueueSize        = 256
	DefaultMaxQueuedTasks   = 4096
	DefaultPingInterval     = 25 * time.Second
	DefaultPongWait         = 60 * time.Second
	DefaultWriteWait        = 10 * time.Second
	DefaultMaxSubscriptions = 100
	DefaultSnapshotLimit    = 1000
)

func (c *Config) fillDefaults() {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxQueuedTasks == 0 {
		c.MaxQueuedTasks = max(DefaultMaxQueuedTasks, c.QueueSize)
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongWait == 0 {
		c.PongWait = DefaultPongWait
	}
	if c.WriteWait == 0 {
		c.WriteWait = DefaultWriteWait
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.SnapshotLimit == 0 {
		c.SnapshotLimit = DefaultSnapshotLimit
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.QueueSize <= 0:
		return errors.New("stream: queue size must be positive")
	case c.MaxQueuedTasks < c.QueueSize:
		return errors.New("stream: max queued tasks must be at least the queue size")
	case c.PingInterval <= 0:
		return errors.New("stream: ping interval must be positive")
	case c.PongWait <= c.PingInterval:
		// A peer can only answer a ping it was sent, so waiting less than
		// one ping interval would close healthy connections.
		return errors.New("stream: pong wait must be longer than the ping interval")
	case c.WriteWait <= 0:
		return errors.New("stream: write wait must be positive")
	case c.MaxSubscriptions <= 0:
		return errors.New("stream: max subscriptions must be positive")
	case c.SnapshotLimit <= 0:
		return errors.New("stream: snapshot limit must be positive")
	}
	return nil
}
