package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/taskpulse/taskpulse/internal/store"
)

// compiledRule is a Rule ready to evaluate.
type compiledRule struct {
	Rule
	matchers []matcher
}

func compile(r Rule) (*compiledRule, error) {
	ms, err := compileMatchers(r.Matchers)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.ID, err)
	}
	return &compiledRule{Rule: r, matchers: ms}, nil
}

type ruleKey struct{ tenant, id string }

// registry holds the rules in force: those of the rules file and those
// made through the API, and the file's channels. Readers take snapshots;
// every change wakes the query-rule runner.
type registry struct {
	mu       sync.RWMutex
	file     *fileSet
	fileByID map[ruleKey]*compiledRule
	api      map[ruleKey]*compiledRule
	changed  chan struct{}
}

func newRegistry() *registry {
	return &registry{fileByID: map[ruleKey]*compiledRule{}, api: map[ruleKey]*compiledRule{}, changed: make(chan struct{}, 1)}
}

func (g *registry) signal() {
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

func (g *registry) setFile(fs *fileSet) error {
	byID := map[ruleKey]*compiledRule{}
	for _, r := range fs.rules {
		c, err := compile(r)
		if err != nil {
			return err
		}
		byID[ruleKey{r.Tenant, r.ID}] = c
	}
	g.mu.Lock()
	g.file, g.fileByID = fs, byID
	g.mu.Unlock()
	g.signal()
	return nil
}

// setAPI replaces the API rules with those read from the store, waking
// the runner only when something changed.
func (g *registry) setAPI(rules map[ruleKey]*compiledRule) {
	g.mu.Lock()
	changed := len(rules) != len(g.api)
	for k, r := range rules {
		// An unchanged rule keeps its identity, which is what tells the
		// runner that its loop may go on.
		if old := g.api[k]; old != nil && old.Version == r.Version {
			rules[k] = old
		} else {
			changed = true
		}
	}
	g.api = rules
	g.mu.Unlock()
	if changed {
		g.signal()
	}
}

func (g *registry) putAPI(r *compiledRule) {
	g.mu.Lock()
	g.api[ruleKey{r.Tenant, r.ID}] = r
	g.mu.Unlock()
	g.signal()
}

func (g *registry) deleteAPI(tenant, id string) {
	g.mu.Lock()
	delete(g.api, ruleKey{tenant, id})
	g.mu.Unlock()
	g.signal()
}

// all lists the rules in force. A file rule wins over an API rule of the
// same id, which can exist only if the file gained the id later.
func (g *registry) all() []*compiledRule {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*compiledRule, 0, len(g.fileByID)+len(g.api))
	for _, r := range g.fileByID {
		out = append(out, r)
	}
	for k, r := range g.api {
		if g.fileByID[k] == nil {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *compiledRule) int {
		return strings.Compare(a.Tenant+"\x00"+a.ID, b.Tenant+"\x00"+b.ID)
	})
	return out
}

func (g *registry) get(tenant, id string) *compiledRule {
	g.mu.RLock()
	defer g.mu.RUnlock()
	k := ruleKey{tenant, id}
	if r := g.fileByID[k]; r != nil {
		return r
	}
	return g.api[k]
}

func (g *registry) live(tenant, id string) bool { return g.get(tenant, id) != nil }

// fileChannel returns the channel of the rules file named name, or nil.
func (g *registry) fileChannel(name string) *fileChannel {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.file == nil {
		return nil
	}
	return g.file.channels[name]
}

// sharedChannels lists the channels of the rules file shared with
// tenant.
func (g *registry) sharedChannels(tenant string) []string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var names []string
	if g.file != nil {
		for n, c := range g.file.channels {
			if c.sharedWith(tenant) {
				names = append(names, n)
			}
		}
	}
	return names
}

// loadAPI puts in force the rules made through the API, on this process
// or another, as docs holds them.
func (g *registry) loadAPI(ctx context.Context, docs store.DocumentStore, log *slog.Logger) error {
	ds, err := docs.Documents(ctx, "", kindRule)
	if err != nil {
		return fmt.Errorf("load alert rules: %w", err)
	}
	rules := map[ruleKey]*compiledRule{}
	for _, d := range ds {
		var r Rule
		if err := json.Unmarshal(d.Body, &r); err != nil {
			log.Warn("skipping an alert rule that does not decode", "id", d.ID, "err", err)
			continue
		}
		r.Tenant, r.Version, r.Source = d.Tenant, d.Version, SourceAPI
		c, err := compile(r)
		if err != nil {
			log.Warn("skipping an alert rule that does not compile", "id", d.ID, "err", err)
			continue
		}
		rules[ruleKey{r.Tenant, r.ID}] = c
	}
	g.setAPI(rules)
	return nil
}
