package httpx

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1795737600000", time.UnixMilli(1795737600000), true},
		{"2026-11-20T08:30:00Z", time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC), true},
		{"now", now, true},
		{"-6h", now.Add(-6 * time.Hour), true},
		{"now-90s", now.Add(-90 * time.Second), true},
		{"-7d", now.AddDate(0, 0, -7), true},
		{"now+1h", time.Time{}, false},
		{"-1.5d", time.Time{}, false},
		{"--1h", time.Time{}, false},
		{"-1x", time.Time{}, false},
		{"-", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"-5", time.Time{}, false},
		{"-0d", now, true},
		{"-106752d", time.Time{}, false},
	} {
		got, ok := ParseTime(c.in, now)
		if ok != c.ok || (ok && got != c.want.UnixMilli()) {
			t.Errorf("ParseTime(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want.UnixMilli(), c.ok)
		}
	}
}
