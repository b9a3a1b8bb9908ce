package alerting

import (
	"strings"
	"time"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Bounds on what a tenant may make. Each keeps one tenant's key from
// costing the store, the evaluator or the receivers without limit.
const (
	// maxRulesPerTenant caps the API rules of a tenant: each query rule
	// is a store query per interval, each task rule work per event.
	maxRulesPerTenant = 200
	// maxSilencesPerTenant caps the silences of a tenant that have not
	// expired: every notification reads and matches all of them.
	maxSilencesPerTenant = 100
	// maxChannelsPerTenant caps a tenant's own channels.
	maxChannelsPerTenant = 100
	// maxChannelsPerRule caps the channels one notification is
	// delivered to.
	maxChannelsPerRule = 16
	// maxMatchers caps the matchers of a rule or a silence, each tested
	// against every alert or sample.
	maxMatchers = 32
	// maxMatcherName is the longest label name ingest accepts: a longer
	// one could never match.
	maxMatcherName = schema.MaxAttrKeyLen
	// maxMatcherValue is the longest label value ingest accepts.
	maxMatcherValue = schema.MaxAttrValueLen
	// maxMatcherRegexp bounds a regular expression, whose compiled size
	// and matching cost grow with its length.
	maxMatcherRegexp = 1 << 10
	// maxGroupBy caps the labels a metric rule groups by.
	maxGroupBy = 16
	// maxLogThreshold caps the threshold of an error_log_rate rule: an
	// evaluation reads that many log records.
	maxLogThreshold = 10_000
	// maxComment caps a silence's comment; maxCreatedBy its author.
	maxComment   = 1 << 10
	maxCreatedBy = 256
	// maxSilenceAhead is how far ahead a silence may end (and start): a
	// longer one is a rule to delete, not a silence.
	maxSilenceAhead = 365 * 24 * time.Hour
	// expiredSilenceKept is how long an expired silence stays listed.
	expiredSilenceKept = 24 * time.Hour
)

// Bounds on the durations of a rule.
const (
	// minRepeatInterval keeps a firing alert from being told more than
	// once a minute: every repeat is a stored notification and a delivery
	// on each channel, and below a minute nobody reads them anyway.
	minRepeatInterval = time.Minute
	// maxRuleDuration bounds for, repeat_interval, stalled_after,
	// max_duration and rate_after: 30 days is past any use, and far from
	// the overflow of the millisecond arithmetic they go into.
	maxRuleDuration = 30 * 24 * time.Hour
	// maxWindow and maxInterval bound what a query rule reads and how
	// seldom it runs: a day is the longest span worth one alert.
	maxWindow   = 24 * time.Hour
	maxInterval = 24 * time.Hour
	// minAPIInterval is the shortest interval of a query rule made
	// through the API: each evaluation is a store query. The rules file
	// is the operator's, and keeps minInterval.
	minAPIInterval = 10 * time.Second
)

// checkMatchers reports the problems of matchers under field: their
// number, their sizes, and (by compiling them) their operators and
// regular expressions.
func checkMatchers(add func(field, reason string), field string, ms []store.Matcher) {
	if len(ms) > maxMatchers {
		add(field, "must hold at most "+itoa(maxMatchers)+" matchers")
		return
	}
	for i, m := range ms {
		at := field + "[" + itoa(i) + "]"
		if len(m.Name) > maxMatcherName {
			add(at+".name", "must be at most "+itoa(maxMatcherName)+" bytes")
		}
		limit := maxMatcherValue
		if m.Op == store.MatchRegexp || m.Op == store.MatchNotRegexp {
			limit = maxMatcherRegexp
		}
		if len(m.Value) > limit {
			add(at+".value", "must be at most "+itoa(limit)+" bytes for op "+string(m.Op))
			return
		}
	}
	if _, err := compileMatchers(ms); err != nil {
		add(field, err.Error())
	}
}

// checkDuration reports d under field unless lo <= d <= hi.
func checkDuration(add func(field, reason string), field string, d Duration, lo, hi time.Duration) {
	if d.D() < lo || d.D() > hi {
		add(field, "must be from "+shortDuration(lo)+" to "+shortDuration(hi))
	}
}

// shortDuration writes d as Go does without its trailing zero units:
// 1m, not 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
