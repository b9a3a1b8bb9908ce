package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

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

// readSilences reads a tenant's silences. They are read from the store
// each time notifications are due, so a silence made on any alerting
// process holds on all of them at once.
func readSilences(ctx context.Context, docs store.DocumentStore, log *slog.Logger, tenant string) ([]Silence, error) {
	ds, err := docs.Documents(ctx, tenant, kindSilence)
	if err != nil {
		return nil, fmt.Errorf("read silences: %w", err)
	}
	out := make([]Silence, 0, len(ds))
	for _, d := range ds {
		var sl Silence
		if err := json.Unmarshal(d.Body, &sl); err != nil {
			log.Warn("skipping a silence that does not decode", "tenant", tenant, "id", d.ID, "err", err)
			continue
		}
		sl.version = d.Version
		out = append(out, sl)
	}
	return out, nil
}

// silencedBy returns the id of a silence among sls active at now that
// matches labels, or "".
func silencedBy(sls []Silence, labels map[string]string, now int64) string {
	for _, sl := range sls {
		if !sl.active(now) {
			continue
		}
		ms, err := compileMatchers(sl.Matchers)
		if err != nil {
			continue // refused when made; a stored one that fails matches nothing
		}
		if matchAll(ms, labels) {
			return sl.ID
		}
	}
	return ""
}
