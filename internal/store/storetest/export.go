package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// RunExport runs the scenarios of the streaming reads exports use
// (StreamLogs, StreamTasks) against stores returned by open, as Run does.
// The data sets are larger than a few pages of any store, so that a
// stream that pages or walks windows crosses several, with bursts of rows
// sharing a millisecond and long gaps between them.
func RunExport(t *testing.T, open func(t testing.TB) store.Store) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"StreamLogs", testStreamLogs},
		{"StreamTasks", testStreamTasks},
		{"StreamStopsOnError", testStreamStopsOnError},
		{"StreamStopsWithContext", testStreamStopsWithContext},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, newFixture(t, open(t)))
		})
	}
}

// streamRows is the size of the scenarios' data sets.
const streamRows = 25_000

// streamTime is the timestamp of the i-th of streamRows items: most in
// bursts of seven sharing a millisecond, the rest an hour apart.
func streamTime(i int) int64 {
	if i < 20_000 {
		return baseTime + int64(i/7)
	}
	return baseTime + int64(i-19_999)*3_600_000
}

// streamLogs inserts streamRows records of the fixture's tenant, some
// twice, and as many of another tenant at the same times, and returns the
// fixture's records as the store must list them.
func (f *fixture) streamLogs() []schema.Log {
	f.t.Helper()
	other := f.other("-other")
	levels := []schema.Level{schema.LevelDebug, schema.LevelInfo, schema.LevelWarning, schema.LevelError}
	var mine, theirs []schema.Log
	for i := range streamRows {
		l := f.log(fmt.Sprintf("l%05d", (i*7919)%streamRows), streamTime(i), levels[i%len(levels)], fmt.Sprintf("line %d", i))
		mine = append(mine, l)
		theirs = append(theirs, other.log(l.EventID, l.Timestamp, l.Level, "other tenant"))
	}
	for batch := range slices.Chunk(mine, 5_000) {
		f.insertLogs(batch...)
	}
	f.insertLogs(mine[:100]...) // redelivered
	other.insertLogs(theirs...)
	return expectLogs(mine)
}

func (f *fixture) streamedLogs(filter store.LogFilter) []schema.Log {
	f.t.Helper()
	filter.Tenant = f.tenant
	var got []schema.Log
	require.NoError(f.t, f.s.StreamLogs(f.ctx(), filter, func(l schema.Log) error {
		got = append(got, l)
		return nil
	}))
	return got
}

// testStreamLogs streams the whole range, then with filters and a cursor,
// and compares each with the records it selects, in listing order.
func testStreamLogs(t *testing.T, f *fixture) {
	all := f.streamLogs()
	require.Equal(t, all, f.streamedLogs(store.LogFilter{}), "every record once, newest first")

	keep := func(ok func(schema.Log) bool) []schema.Log {
		var out []schema.Log
		for _, l := range all {
			if ok(l) {
				out = append(out, l)
			}
		}
		return out
	}
	since, until := streamTime(3_000), streamTime(21_000)
	cursor := all[len(all)/2]
	for _, c := range []struct {
		name   string
		filter store.LogFilter
		want   func(schema.Log) bool
	}{
		{"level", store.LogFilter{MinLevel: schema.LevelError}, func(l schema.Log) bool { return l.Level == schema.LevelError }},
		{"range", store.LogFilter{Since: since, Until: until}, func(l schema.Log) bool { return l.Timestamp >= since && l.Timestamp < until }},
		{"cursor", store.LogFilter{After: &store.LogCursor{Timestamp: cursor.Timestamp, EventID: cursor.EventID}}, func(l schema.Log) bool {
			return cmp.Or(cmp.Compare(l.Timestamp, cursor.Timestamp), cmp.Compare(l.EventID, cursor.EventID)) < 0
		}},
		{"text", store.LogFilter{Text: "line 2"}, func(l schema.Log) bool { return l.Message == "line 2" }},
		{"limit is not a cap", store.LogFilter{Limit: 5}, func(schema.Log) bool { return true }},
	} {
		require.Equal(t, keep(c.want), f.streamedLogs(c.filter), c.name)
	}
}

// testStreamTasks streams tasks of one event each, some redelivered, with
// another tenant's tasks beside them, whole and with filters and a cursor.
func testStreamTasks(t *testing.T, f *fixture) {
	other := f.other("-other")
	statuses := []schema.Status{schema.StatusRunning, schema.StatusCompleted, schema.StatusFailed}
	var mine, theirs []schema.Progress
	for i := range streamRows / 2 {
		id := fmt.Sprintf("t%05d", (i*7919)%(streamRows/2))
		mine = append(mine, f.event(id, id+"-e", streamTime(i), statuses[i%len(statuses)]))
		theirs = append(theirs, eventOf(other.tenant, id, id+"-e", streamTime(i), schema.StatusPaused))
	}
	for batch := range slices.Chunk(mine, 5_000) {
		f.insert(batch...)
	}
	f.insert(mine[:100]...)
	other.insert(theirs...)
	all := slices.SortedFunc(maps.Values(expectTasks(mine)), func(a, b store.Task) int {
		return cmp.Or(cmp.Compare(b.UpdatedAt, a.UpdatedAt), cmp.Compare(b.TaskID, a.TaskID))
	})

	stream := func(filter store.TaskFilter) []store.Task {
		t.Helper()
		filter.Tenant = f.tenant
		var got []store.Task
		require.NoError(t, f.s.StreamTasks(f.ctx(), filter, func(task store.Task) error {
			got = append(got, task)
			return nil
		}))
		return got
	}
	require.Equal(t, all, stream(store.TaskFilter{}), "every task once, newest first")

	keep := func(ok func(store.Task) bool) []store.Task {
		var out []store.Task
		for _, task := range all {
			if ok(task) {
				out = append(out, task)
			}
		}
		return out
	}
	since := streamTime(5_000)
	cursor := all[len(all)/3]
	for _, c := range []struct {
		name   string
		filter store.TaskFilter
		want   func(store.Task) bool
	}{
		{"status", store.TaskFilter{Statuses: []schema.Status{schema.StatusFailed}}, func(t store.Task) bool { return t.Status == schema.StatusFailed }},
		{"since", store.TaskFilter{UpdatedSince: since}, func(t store.Task) bool { return t.UpdatedAt >= since }},
		{"cursor", store.TaskFilter{After: &store.TaskCursor{UpdatedAt: cursor.UpdatedAt, TaskID: cursor.TaskID}}, func(t store.Task) bool {
			return cmp.Or(cmp.Compare(t.UpdatedAt, cursor.UpdatedAt), cmp.Compare(t.TaskID, cursor.TaskID)) < 0
		}},
	} {
		require.Equal(t, keep(c.want), stream(c.filter), c.name)
	}
}

// testStreamStopsOnError returns an error from fn and expects the stream
// to stop there and return it.
func testStreamStopsOnError(t *testing.T, f *fixture) {
	f.streamLogs()
	stop := errors.New("stop here")
	calls := 0
	err := f.s.StreamLogs(f.ctx(), store.LogFilter{Tenant: f.tenant}, func(schema.Log) error {
		if calls++; calls == 10 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 10, calls, "fn called after it failed")
}

// testStreamStopsWithContext ends the context partway, as an export does
// when its client goes away, and expects no row after that.
func testStreamStopsWithContext(t *testing.T, f *fixture) {
	f.streamLogs()
	ctx, cancel := context.WithCancel(f.ctx())
	defer cancel()
	calls := 0
	err := f.s.StreamLogs(ctx, store.LogFilter{Tenant: f.tenant}, func(schema.Log) error {
		if calls++; calls == 10 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 10, calls, "rows handed on after the context ended")
}
