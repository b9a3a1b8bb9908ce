package alerting

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/store"
)

// errNoChannel is a channel a notification names that its rule may not
// use (any more): gone, or no longer shared with the tenant.
var errNoChannel = errors.New("no channel of that name may be used by this rule")

// senders finds, at every delivery, the channel a name means for a
// notification of a tenant's rule: a rule of the file uses the file's
// channels; one made through the API its tenant's own, or else one of
// the file's shared with the tenant now. Sharing is checked every time,
// so a channel unshared or deleted stops delivering at once.
type senders struct {
	rules *registry
	docs  store.DocumentStore
	// transport carries tenants' channels, through the outbound policy.
	transport channel.Transport
	// timeout bounds an attempt on a channel that sets none.
	timeout time.Duration

	// cache keeps the senders of tenants' channels by version, so a
	// delivery reads the channel's document but builds its sender once.
	mu    sync.Mutex
	cache map[[2]string]cachedSender
}

type cachedSender struct {
	version int64
	sender  channel.Sender
}

// sender is the deliverer's senderFunc.
func (s *senders) sender(ctx context.Context, tenant, rule, name string) (channel.Sender, error) {
	if r := s.rules.get(tenant, rule); r != nil && r.Source == SourceFile {
		if fc := s.rules.fileChannel(name); fc != nil {
			return fc.sender, nil
		}
		return nil, errNoChannel
	}
	d, err := s.docs.Document(ctx, tenant, kindChannel, name)
	switch {
	case err == nil:
		return s.tenantSender(tenant, d)
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("read alert channel: %w", err)
	}
	if fc := s.rules.fileChannel(name); fc != nil && fc.sharedWith(tenant) {
		return fc.sender, nil
	}
	return nil, errNoChannel
}

func (s *senders) tenantSender(tenant string, d store.Document) (channel.Sender, error) {
	k := [2]string{tenant, d.ID}
	s.mu.Lock()
	c, ok := s.cache[k]
	s.mu.Unlock()
	if ok && c.version == d.Version {
		return c.sender, nil
	}
	ch, err := decodeChannel(d)
	if err != nil {
		return nil, err
	}
	cfg := ch.config()
	if cfg.Timeout == 0 {
		cfg.Timeout = s.timeout
	}
	snd, err := channel.New(cfg, s.transport)
	if err != nil {
		return nil, fmt.Errorf("alert channel %s: %w", d.ID, err)
	}
	s.mu.Lock()
	// Two deliveries may build the same sender at once; either will do,
	// but an older version must not replace a newer one.
	if old, ok := s.cache[k]; !ok || old.version <= d.Version {
		if s.cache == nil {
			s.cache = map[[2]string]cachedSender{}
		}
		s.cache[k] = cachedSender{d.Version, snd}
	}
	s.mu.Unlock()
	return snd, nil
}

// forget drops the sender of a deleted channel.
func (s *senders) forget(tenant, name string) {
	s.mu.Lock()
	delete(s.cache, [2]string{tenant, name})
	s.mu.Unlock()
}

// close lets go of idle connections to tenants' receivers.
func (s *senders) close() { s.transport.Client.CloseIdleConnections() }
