package httpx

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// TimeHelp says which times ParseTime reads, for error messages.
const TimeHelp = "must be unix milliseconds, an RFC 3339 time, or relative to now such as -6h or now-7d"

// ParseTime reads a time parameter as unix milliseconds, RFC 3339, or
// relative to now as dashboards write it ("now", "-6h", "now-7d"),
// returning unix ms.
func ParseTime(s string, now time.Time) (int64, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), true
	}
	if ago, ok := parseAgo(s); ok {
		return now.Add(-ago).UnixMilli(), true
	}
	return 0, false
}

// TimeParam reads the value s of time parameter name as ParseTime does,
// 0 when s is empty, or answers a 400 naming the parameter.
func TimeParam(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	ms, ok := ParseTime(s, time.Now())
	if !ok {
		return 0, BadParameter(name, TimeHelp)
	}
	return ms, nil
}

// parseAgo reads "now", "-<duration>" or "now-<duration>".
func parseAgo(s string) (time.Duration, bool) {
	s = strings.TrimPrefix(s, "now")
	if s == "" {
		return 0, true
	}
	s, ok := strings.CutPrefix(s, "-")
	if !ok {
		return 0, false
	}
	return ParseDuration(s)
}

// maxDays is the most days a time.Duration holds.
const maxDays = int(math.MaxInt64 / int64(24*time.Hour))

// ParseDuration reads a non-negative duration as Go writes it (90s, 15m,
// 6h) or in whole days (7d), which Go's parser lacks.
func ParseDuration(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		return time.Duration(n) * 24 * time.Hour, err == nil && n >= 0 && n <= maxDays
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}
