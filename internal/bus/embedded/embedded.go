package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// Bus is the embedded implementation of bus.Bus. It is safe for concurrent
// use.
type Bus struct {
	dir  string
	opts Options
	lock *os.File

	topicsMu sync.Mutex // serializes topic creation
	topics   sync.Map   // topic name -> *topic

	pubMu     sync.Mutex
	pubClosed bool
	dirty     []*topic
	spare     []*topic
	gen       *generation
	kick      chan struct{}
	stop      chan struct{}
	stopped   chan struct{}

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced whenever data becomes durable

	mu      sync.Mutex
	closed  bool
	groups  map[string]*group
	readers sync.WaitGroup // running Consume and Subscribe calls

	// ctx is cancelled by Close, which cancels every handler's context.
	ctx    context.Context
	cancel context.CancelFunc

	// retainMu orders retention against groups joining at the oldest
	// record, so a segment is never deleted under a group that just
	// decided to start in it.
	retainMu sync.Mutex
}

var _ bus.Bus = (*Bus)(nil)

// Open opens or creates the bus stored in dir, recovering every topic's
// log, and takes an exclusive lock on dir until Close.
func Open(dir string, opts Options) (*Bus, error) {
	opts = opts.withDefaults()
	for _, d := range []string{dir, filepath.Join(dir, "topics"), filepath.Join(dir, "groups")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create directory %s: %w", d, err)
		}
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	b := &Bus{
		dir:     dir,
		opts:    opts,
		lock:    lock,
		gen:     newGeneration(),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		notify:  make(chan struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if err := b.load(); err != nil {
		b.closeFiles()
		b.cancel()
		return nil, err
	}
	go b.flushLoop()
	b.topics.Range(func(_, v any) bool {
		b.retain(v.(*topic))
		return true
	})
	return b, nil
}

// load opens every topic log and reads every group's committed offsets.
func (b *Bus) load() error {
	topicsDir := filepath.Join(b.dir, "topics")
	entries, err := os.ReadDir(topicsDir)
	if err != nil {
		return fmt.Errorf("cannot list topics in %s: %w", topicsDir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || !validTopic(e.Name()) {
			continue
		}
		t, err := openTopic(filepath.Join(topicsDir, e.Name()), e.Name(), b.opts.Logger)
		if err != nil {
			return err
		}
		b.topics.Store(t.name, t)
	}
	groups, err := loadGroups(filepath.Join(b.dir, "groups"))
	if err != nil {
		return err
	}
	b.groups = groups
	return nil
}

// topic returns the log of name, creating it on first use as Kafka does
// with automatic topic creation.
func (b *Bus) topic(name string) (*topic, error) {
	if t, ok := b.topics.Load(name); ok {
		return t.(*topic), nil
	}
	if !validTopic(name) {
		return nil, fmt.Errorf("cannot use topic %q: %w", name, ErrInvalidTopic)
	}
	b.topicsMu.Lock()
	defer b.topicsMu.Unlock()
	if t, ok := b.topics.Load(name); ok {
		return t.(*topic), nil
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, bus.ErrClosed
	}
	topicsDir := filepath.Join(b.dir, "topics")
	dir := filepath.Join(topicsDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create topic directory %s: %w", dir, err)
	}
	if err := syncDir(topicsDir); err != nil {
		return nil, err
	}
	t, err := openTopic(dir, name, b.opts.Logger)
	if err != nil {
		return nil, err
	}
	b.topics.Store(name, t)
	return t, nil
}

// topicList resolves names to logs, dropping duplicates.
func (b *Bus) topicList(names []string) ([]*topic, error) {
	if len(names) == 0 {
		return nil, errors.New("cannot read from the bus: no topics given")
	}
	var ts []*topic
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		t, err := b.topic(name)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// enter registers a Consume or Subscribe call so Close can wait for it, and
// binds ctx to the bus so Close cancels it.
func (b *Bus) enter(ctx context.Context) (context.Context, func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, nil, bus.ErrClosed
	}
	b.readers.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
		b.readers.Done()
	}, nil
}

// exitErr is what a Consume or Subscribe call returns once its context has
// ended: nil when the caller ended it, ErrClosed when Close did.
func (b *Bus) exitErr() error {
	if b.ctx.Err() != nil {
		return bus.ErrClosed
	}
	return nil
}

// changed returns a channel that is closed the next time new records
// become durable in any topic. Take it before looking for records, so a
// flush between the look and the wait is not missed.
func (b *Bus) changed() <-chan struct{} {
	b.notifyMu.Lock()
	defer b.notifyMu.Unlock()
	return b.notify
}

func (b *Bus) wake() {
	b.notifyMu.Lock()
	close(b.notify)
	b.notify = make(chan struct{})
	b.notifyMu.Unlock()
}

// Lag returns, in bytes of the log, how far group trails the durable end
// of every topic it has consumed. It is 0 for an unknown group. Bytes are
// what retention frees, and they can be read without scanning the log.
func (b *Bus) Lag(group string) int64 {
	b.mu.Lock()
	g := b.groups[group]
	b.mu.Unlock()
	if g == nil {
		return 0
	}
	var lag int64
	for name, off := range g.snapshot() {
		if t, ok := b.topics.Load(name); ok {
			lag += max(0, t.(*topic).durable.Load()-off)
		}
	}
	return lag
}

// Close flushes what Publish has accepted, cancels the handlers of every
// Consume and Subscribe call and waits for them to return, then releases
// the directory. Every later call returns bus.ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return bus.ErrClosed
	}
	b.closed = true
	b.mu.Unlock()

	b.pubMu.Lock()
	b.pubClosed = true
	b.pubMu.Unlock()
	close(b.stop)
	<-b.stopped

	b.cancel()
	b.readers.Wait()
	return b.closeFiles()
}

// closeFiles holds topicsMu so a topic created by a call racing with Close
// is either refused or closed here.
func (b *Bus) closeFiles() error {
	b.topicsMu.Lock()
	defer b.topicsMu.Unlock()
	var errs []error
	b.topics.Range(func(_, v any) bool {
		if err := v.(*topic).active.Close(); err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if err := b.lock.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot close bus in %s: %w", b.dir, err)
	}
	return nil
}
