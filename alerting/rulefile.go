package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/auth"
)

// ruleFile is the YAML rules file: channels by name, and rules.
type ruleFile struct {
	Channels map[string]fileChannelConfig `yaml:"channels"`
	Rules    []Rule                       `yaml:"rules"`
}

// fileChannelConfig is a channel of the rules file. The channels of the
// file are the operator's: its rules may use any of them, and a rule made
// through the API only those shared with its tenant.
type fileChannelConfig struct {
	channel.Config `yaml:",inline"`
	// Tenants lists the tenants whose rules made through the API may use
	// the channel; "*" is every tenant. None by default.
	Tenants []string `yaml:"tenants"`
}

// fileChannel is a channel of the rules file, ready to send.
type fileChannel struct {
	sender  channel.Sender
	tenants []string
}

// sharedWith reports whether the operator lets tenant's own rules use
// the channel.
func (c *fileChannel) sharedWith(tenant string) bool {
	return slices.Contains(c.tenants, tenant) || slices.Contains(c.tenants, "*")
}

// fileSet is a rules file, checked and ready to run.
type fileSet struct {
	rules    []Rule
	channels map[string]*fileChannel
}

// Problem is one thing wrong in a rules file: the rule (or channel) it is
// in and the field.
type Problem struct {
	Rule    string `json:"rule,omitempty"`
	Channel string `json:"channel,omitempty"`
	Field   string `json:"field"`
	Reason  string `json:"reason"`
}

func (p Problem) String() string {
	switch {
	case p.Rule != "":
		return "rule " + p.Rule + ": " + p.Field + " " + p.Reason
	case p.Channel != "":
		return "channel " + p.Channel + ": " + p.Field + " " + p.Reason
	}
	return p.Field + " " + p.Reason
}

// FileError lists every problem found in a rules file.
type FileError struct {
	Path     string
	Problems []Problem
}

func (e *FileError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.String()
	}
	return "rules file " + e.Path + ": " + strings.Join(s, "; ")
}

var channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// loadRuleFile reads and checks the rules file at path. Nothing of a file
// with a problem is used, so the rules running before stay in force.
func loadRuleFile(path string, cfg *Config, client *http.Client, hasSeries, hasLogs bool) (*fileSet, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules file: %w", err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, &FileError{Path: path, Problems: []Problem{{Field: "yaml", Reason: err.Error()}}}
	}
	set := &fileSet{channels: map[string]*fileChannel{}}
	var problems []Problem
	env := ruleEnv{channels: map[string]bool{}, hasSeries: hasSeries, hasLogs: hasLogs}
	for _, name := range sortedKeys(f.Channels) {
		c := f.Channels[name]
		if !channelName.MatchString(name) {
			problems = append(problems, Problem{Channel: name, Field: "name", Reason: "must be letters, digits, '_', '.' or '-'"})
			continue
		}
		errs := c.Validate()
		for i, t := range c.Tenants {
			if t == "" || t == "*" && len(c.Tenants) > 1 {
				errs = append(errs, channel.FieldError{Field: "tenants[" + itoa(i) + "]", Reason: `must be a tenant, or "*" alone for every tenant`})
			}
		}
		if len(errs) > 0 {
			for _, e := range errs {
				problems = append(problems, Problem{Channel: name, Field: e.Field, Reason: e.Reason})
			}
			continue
		}
		if c.Timeout == 0 {
			c.Timeout = cfg.Delivery.Timeout
		}
		s, err := channel.New(c.Config, channel.Transport{Client: client})
		if err != nil {
			problems = append(problems, Problem{Channel: name, Field: "type", Reason: err.Error()})
			continue
		}
		set.channels[name] = &fileChannel{sender: s, tenants: c.Tenants}
		env.channels[name] = true
	}
	seen := map[[2]string]bool{}
	for i, r := range f.Rules {
		name := r.ID
		if name == "" {
			name = "#" + itoa(i+1)
		}
		if r.Tenant == "" {
			r.Tenant = auth.DefaultTenant
		}
		r.Source = SourceFile
		r.fillDefaults(cfg)
		for _, e := range r.validate(env) {
			problems = append(problems, Problem{Rule: name, Field: e.Field, Reason: e.Reason})
		}
		key := [2]string{r.Tenant, r.ID}
		if seen[key] {
			problems = append(problems, Problem{Rule: name, Field: "id", Reason: "is used by an earlier rule of the same tenant"})
		}
		seen[key] = true
		set.rules = append(set.rules, r)
	}
	if len(problems) > 0 {
		return nil, &FileError{Path: path, Problems: problems}
	}
	return set, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
