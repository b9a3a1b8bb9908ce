package alerting

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Silence holds back the notifications of the alerts its matchers select
// (on the alert's labels, which include rule, rule_name, kind and
// severity) between StartsAt and EndsAt. Alerts still change state under
// it; a firing it held back is told once it ends.
type Silence struct {
	ID        string          `json:"id"`
	Matchers  []store.Matcher `json:"matchers"`
	StartsAt  int64           `json:"starts_at"` // unix ms
	EndsAt    int64           `json:"ends_at"`   // unix ms
	Comment   string          `json:"comment,omitempty"`
	CreatedBy string          `json:"created_by,omitempty"`
	CreatedAt int64           `json:"created_at"`

	version int64
}

func (sl *Silence) active(now int64) bool { return sl.StartsAt <= now && now < sl.EndsAt }

// silences reads a tenant's silences. They are read from the store each
// time a notification is due, so a silence made on any alerting process
// holds on all of them at once.
func (s *Service) silences(ctx context.Context, tenant string) ([]Silence, error) {
	docs, err := s.docs.Documents(ctx, tenant, kindSilence)
	if err != nil {
		return nil, fmt.Errorf("read silences: %w", err)
	}
	out := make([]Silence, 0, len(docs))
	for _, d := range docs {
		var sl Silence
		if err := json.Unmarshal(d.Body, &sl); err != nil {
			s.log.Warn("skipping a silence that does not decode", "tenant", tenant, "id", d.ID, "err", err)
			continue
		}
		sl.version = d.Version
		out = append(out, sl)
	}
	return out, nil
}

// silencedBy returns the id of an active silence of tenant that matches
// labels, or "".
func (s *Service) silencedBy(ctx context.Context, tenant string, labels map[string]string, now int64) (string, error) {
	sls, err := s.silences(ctx, tenant)
	if err != nil {
		return "", err
	}
	for _, sl := range sls {
		if !sl.active(now) {
			continue
		}
		ms, err := compileMatchers(sl.Matchers)
		if err != nil {
			continue // refused when made; a stored one that fails matches nothing
		}
		if matchAll(ms, labels) {
			return sl.ID, nil
		}
	}
	return "", nil
}
