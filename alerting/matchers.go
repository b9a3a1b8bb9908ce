package alerting

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/taskpulse/taskpulse/internal/store"
)

// matcher is a store.Matcher ready to test labels in memory, for task
// rules and silences; metric and log rules hand theirs to the store.
type matcher struct {
	store.Matcher
	re *regexp.Regexp
}

func compileMatchers(ms []store.Matcher) ([]matcher, error) {
	out := make([]matcher, len(ms))
	for i, m := range ms {
		out[i].Matcher = m
		if m.Name == "" {
			return nil, errors.New("matcher " + itoa(i) + ": name is required")
		}
		switch m.Op {
		case store.MatchEqual, store.MatchNotEqual:
		case store.MatchRegexp, store.MatchNotRegexp:
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			if err != nil {
				return nil, errors.New("matcher " + itoa(i) + ": value is not a regular expression: " + err.Error())
			}
			out[i].re = re
		default:
			return nil, errors.New("matcher " + itoa(i) + ": op must be =, !=, =~ or !~")
		}
	}
	return out, nil
}

// matchAll reports whether labels pass every matcher; a missing label is
// "", as in Prometheus.
func matchAll(ms []matcher, labels map[string]string) bool {
	for _, m := range ms {
		v := labels[m.Name]
		var ok bool
		switch m.Op {
		case store.MatchEqual:
			ok = v == m.Value
		case store.MatchNotEqual:
			ok = v != m.Value
		case store.MatchRegexp:
			ok = m.re.MatchString(v)
		case store.MatchNotRegexp:
			ok = !m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// labelKey is the canonical text of a label set: the group key of a
// metric alert.
func labelKey(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(labels[k]))
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }
