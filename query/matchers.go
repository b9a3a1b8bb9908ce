package query

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

const matcherSyntax = "must be name=value, name!=value, name=~regexp or name!~regexp"

// maxMatchers bounds the matchers of one parameter: each is a predicate,
// a regular expression perhaps, evaluated on every candidate row, and a
// selector needs a handful.
const maxMatchers = 16

// matchers reads a repeatable label or attribute matcher. Values are not
// split on commas, which a regular expression may contain.
func (p *params) matchers(name string) ([]store.Matcher, error) {
	if len(p.Values(name)) > maxMatchers {
		return nil, httpx.BadParameter(name, "must be given at most "+strconv.Itoa(maxMatchers)+" times")
	}
	var out []store.Matcher
	for _, v := range p.Values(name) {
		m, reason := parseMatcher(v)
		if reason != "" {
			return nil, httpx.BadParameter(name, reason)
		}
		out = append(out, m)
	}
	return out, nil
}

// parseMatcher reads one matcher, or says why it cannot.
func parseMatcher(s string) (store.Matcher, string) {
	i := strings.IndexAny(s, "=!")
	if i <= 0 || strings.ContainsAny(s[:i], " ~") {
		return store.Matcher{}, matcherSyntax
	}
	m := store.Matcher{Name: s[:i]}
	rest := s[i:]
	for _, op := range []store.MatchOp{store.MatchRegexp, store.MatchNotRegexp, store.MatchNotEqual, store.MatchEqual} {
		if v, ok := strings.CutPrefix(rest, string(op)); ok {
			m.Op, m.Value = op, v
			break
		}
	}
	if m.Op == "" {
		return store.Matcher{}, matcherSyntax
	}
	// Ingest keeps no longer names or values; a regular expression is
	// held to the same length, which leaves room for any real one.
	if len(m.Name) > schema.MaxAttrKeyLen {
		return store.Matcher{}, "must name an attribute of at most " + strconv.Itoa(schema.MaxAttrKeyLen) + " bytes"
	}
	if len(m.Value) > schema.MaxAttrValueLen {
		return store.Matcher{}, "must have a value of at most " + strconv.Itoa(schema.MaxAttrValueLen) + " bytes"
	}
	if m.Op == store.MatchRegexp || m.Op == store.MatchNotRegexp {
		// Checked here, anchored as the store anchors it, so that a bad
		// expression is the client's 400 rather than the store's error.
		if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
			return store.Matcher{}, "has an invalid regular expression: " + err.Error()
		}
	}
	return m, ""
}
