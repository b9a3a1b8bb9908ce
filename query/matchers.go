package query

import (
	"regexp"
	"strings"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/internal/store"
)

const matcherSyntax = "must be name=value, name!=value, name=~regexp or name!~regexp"

// matchers reads a repeatable label or attribute matcher. Values are not
// split on commas, which a regular expression may contain.
func (p *params) matchers(name string) ([]store.Matcher, error) {
	var out []store.Matcher
	for _, v := range p.args[name] {
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
	if m.Op == store.MatchRegexp || m.Op == store.MatchNotRegexp {
		// Checked here, anchored as the store anchors it, so that a bad
		// expression is the client's 400 rather than the store's error.
		if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
			return store.Matcher{}, "has an invalid regular expression: " + err.Error()
		}
	}
	return m, ""
}
