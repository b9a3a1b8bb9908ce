package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// log returns a record of the fixture's tenant; opts fill in the rest.
func (f *fixture) log(eventID string, ts int64, level schema.Level, message string, opts ...func(*schema.Log)) schema.Log {
	l := schema.Log{Tenant: f.tenant, EventID: eventID, Timestamp: ts, Level: level, Message: message}
	for _, o := range opts {
		o(&l)
	}
	return l
}

func logAttrs(kv ...string) func(*schema.Log) {
	return func(l *schema.Log) {
		l.Attributes = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			l.Attributes[kv[i]] = kv[i+1]
		}
	}
}

func logOwner(taskID, userID, source string) func(*schema.Log) {
	return func(l *schema.Log) { l.TaskID, l.UserID, l.Source = taskID, userID, source }
}

func (f *fixture) insertLogs(logs ...schema.Log) {
	f.t.Helper()
	require.NoError(f.t, f.s.InsertLogs(f.ctx(), logs))
}

// logs reads every record matching filter, a few at a time, so that
// every scenario that searches also pages.
func (f *fixture) logs(filter store.LogFilter) []schema.Log {
	f.t.Helper()
	filter.Tenant, filter.Limit = f.tenant, 4
	var all []schema.Log
	for {
		page, err := f.s.Logs(f.ctx(), filter)
		require.NoError(f.t, err)
		for _, l := range page {
			require.Equal(f.t, f.tenant, l.Tenant, "record %s of another tenant", l.EventID)
		}
		all = append(all, page...)
		if len(page) < filter.Limit {
			return all
		}
		last := page[len(page)-1]
		filter.After = &store.LogCursor{Timestamp: last.Timestamp, EventID: last.EventID}
		require.Less(f.t, len(all), 100_000, "log paging does not end")
	}
}

func logIDs(logs []schema.Log) []string {
	ids := make([]string, len(logs))
	for i, l := range logs {
		ids[i] = l.EventID
	}
	return ids
}

// expectLogs keeps the first copy of each event id and orders the records
// newest first by (timestamp, event id), no attributes as nil.
func expectLogs(logs []schema.Log) []schema.Log {
	seen := map[string]bool{}
	var out []schema.Log
	for _, l := range logs {
		if seen[l.Tenant+"\x00"+l.EventID] {
			continue
		}
		seen[l.Tenant+"\x00"+l.EventID] = true
		if len(l.Attributes) == 0 {
			l.Attributes = nil
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b schema.Log) int {
		return cmp.Or(cmp.Compare(b.Timestamp, a.Timestamp), cmp.Compare(b.EventID, a.EventID))
	})
	return out
}

// testLogRoundTrip stores records that set every field, with unicode
// text and attributes, and reads them back unchanged.
func testLogRoundTrip(t *testing.T, f *fixture) {
	full := func(l *schema.Log) {
		l.IngestOrder = 7
		l.TaskID, l.UserID, l.Source = "task-β", "usér-1", "scraper/fetch"
		l.TraceID, l.SpanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		l.Attributes = map[string]string{"url": "https://例え.jp/a?b=c", "ключ": "значение", "emoji 🎉": "", "a.b": "x=y"}
	}
	logs := []schema.Log{
		f.log("l1", baseTime, schema.LevelInfo, "Créer la compétence « 技能 » 🚀", full),
		f.log("l2", baseTime+1, schema.LevelCritical, "line one\nline two\t¿ok?", full),
		f.log("l3", baseTime+2, schema.LevelDebug, "bare"),
		f.log("l4", baseTime+3, schema.LevelWarning, "empty attributes", logAttrs()),
	}
	f.insertLogs(logs...)
	got := f.logs(store.LogFilter{})
	require.Equal(t, expectLogs(logs), got)
	require.Nil(t, got[0].Attributes, "an empty attribute map reads back as nil")
}

// testLogRedelivery sends a batch twice, then an overlapping batch with
// a repeat inside it and a stored id carrying other content.
func testLogRedelivery(t *testing.T, f *fixture) {
	batch := []schema.Log{
		f.log("a", baseTime, schema.LevelInfo, "first"),
		f.log("b", baseTime+1, schema.LevelError, "second"),
	}
	f.insertLogs(batch...)
	f.insertLogs(batch...)
	c := f.log("c", baseTime+2, schema.LevelInfo, "third")
	f.insertLogs(batch[1], c, c, f.log("a", baseTime+9, schema.LevelCritical, "impostor"))
	require.Equal(t, expectLogs(append(batch, c)), f.logs(store.LogFilter{}))

	// UUIDv7 ids, as ingest and the clients stamp them, retried hours
	// later with another timestamp (ingest stamps its own clock on a
	// record sent without one) and in a batch with new ids.
	early := []schema.Log{
		f.log(uuidV7(baseTime, 1), baseTime+100, schema.LevelInfo, "early one"),
		f.log(uuidV7(baseTime+1, 2), baseTime+101, schema.LevelInfo, "early two"),
	}
	f.insertLogs(early...)
	hour := int64(3_600_000)
	late := f.log(uuidV7(baseTime+2*hour, 3), baseTime+2*hour, schema.LevelWarning, "late")
	f.insertLogs(late)
	retried := early[0]
	retried.Timestamp, retried.Message = baseTime+3*hour, "retried"
	newer := f.log(uuidV7(baseTime+3*hour, 4), baseTime+3*hour, schema.LevelInfo, "new")
	f.insertLogs(retried, late, newer, early[1])
	require.Equal(t, expectLogs(append(append(batch, c), early[0], early[1], late, newer)), f.logs(store.LogFilter{}))
}

// uuidV7 is a UUIDv7 text for unix millisecond ms, n in its random bits.
func uuidV7(ms int64, n int) string {
	return fmt.Sprintf("%08x-%04x-7000-8000-%012x", ms>>16, ms&0xffff, n)
}

// testLogFilters checks every LogFilter field alone and some combined, on
// records built so that each case selects a different set.
func testLogFilters(t *testing.T, f *fixture) {
	logs := []schema.Log{
		f.log("d1", baseTime+1, schema.LevelDebug, "Disk FULL on /dev/sda", logOwner("t1", "alice", "disk"), logAttrs("region", "eu", "host", "h1")),
		f.log("i1", baseTime+2, schema.LevelInfo, "the disk is fullest today", logOwner("t1", "bob", "disk"), logAttrs("region", "eu-west")),
		f.log("w1", baseTime+3, schema.LevelWarning, "full disk, retrying (timeout)", logOwner("t2", "alice", "net"), logAttrs("region", "us")),
		f.log("e1", baseTime+4, schema.LevelError, "timeout: upstream error", logOwner("t2", "carol", "net")),
		f.log("c1", baseTime+5, schema.LevelCritical, "Ошибка записи на диск", logOwner("t3", "alice", "disk"), logAttrs("region", "")),
		f.log("i2", baseTime+6, schema.LevelInfo, "diskful errors: 3", logOwner("", "bob", "disk"), logAttrs("host", "h2")),
	}
	f.insertLogs(logs...)
	check := func(name string, filter store.LogFilter, want ...string) {
		t.Helper()
		slices.Reverse(want) // written oldest first, listed newest first
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, append([]string{}, logIDs(f.logs(filter))...), name)
	}
	m := func(name string, op store.MatchOp, value string) []store.Matcher {
		return []store.Matcher{{Name: name, Op: op, Value: value}}
	}
	check("everything", store.LogFilter{}, "d1", "i1", "w1", "e1", "c1", "i2")
	check("min level warning", store.LogFilter{MinLevel: schema.LevelWarning}, "w1", "e1", "c1")
	check("min level critical", store.LogFilter{MinLevel: schema.LevelCritical}, "c1")
	check("task", store.LogFilter{TaskID: "t2"}, "w1", "e1")
	check("user", store.LogFilter{UserID: "alice"}, "d1", "w1", "c1")
	check("source", store.LogFilter{Source: "net"}, "w1", "e1")

	check("tokens ignore case and order", store.LogFilter{Text: "FULL disk"}, "d1", "w1")
	check("tokens are whole words", store.LogFilter{Text: "disk"}, "d1", "i1", "w1")
	check("a token inside a word does not match", store.LogFilter{Text: "err"})
	check("tokens next to punctuation", store.LogFilter{Text: "timeout"}, "w1", "e1")
	check("unicode tokens ignore case", store.LogFilter{Text: "ОШИБКА", TextMode: store.TextTokens}, "c1")
	check("every token must match", store.LogFilter{Text: "timeout upstream"}, "e1")
	check("substring ignores case", store.LogFilter{Text: "ISK FU", TextMode: store.TextSubstring}, "d1")
	check("substring inside words", store.LogFilter{Text: "err", TextMode: store.TextSubstring}, "e1", "i2")
	check("substring with punctuation", store.LogFilter{Text: "(timeout)", TextMode: store.TextSubstring}, "w1")

	check("attribute =", store.LogFilter{Attributes: m("region", store.MatchEqual, "eu")}, "d1")
	check("attribute = empty matches missing", store.LogFilter{Attributes: m("region", store.MatchEqual, "")}, "e1", "c1", "i2")
	check("attribute !=", store.LogFilter{Attributes: m("region", store.MatchNotEqual, "eu")}, "i1", "w1", "e1", "c1", "i2")
	check("attribute =~ is anchored", store.LogFilter{Attributes: m("region", store.MatchRegexp, "eu")}, "d1")
	check("attribute =~", store.LogFilter{Attributes: m("region", store.MatchRegexp, "eu.*|us")}, "d1", "i1", "w1")
	check("attribute =~ matching missing", store.LogFilter{Attributes: m("host", store.MatchRegexp, "h1|")}, "d1", "i1", "w1", "e1", "c1")
	check("attribute !~", store.LogFilter{Attributes: m("region", store.MatchNotRegexp, "eu.*")}, "w1", "e1", "c1", "i2")
	check("attribute !~ of missing", store.LogFilter{Attributes: m("zone", store.MatchNotRegexp, ".+")}, "d1", "i1", "w1", "e1", "c1", "i2")

	check("since", store.LogFilter{Since: baseTime + 5}, "c1", "i2")
	check("until", store.LogFilter{Until: baseTime + 3}, "d1", "i1")
	check("combined", store.LogFilter{
		MinLevel: schema.LevelInfo, UserID: "alice", Text: "disk", Since: baseTime + 2, Until: baseTime + 6,
		Attributes: []store.Matcher{{Name: "region", Op: store.MatchNotEqual, Value: "eu"}},
	}, "w1")
}

// testLogPagination lists records of which many share a millisecond, a
// page at a time, with and without a filter, and expects every record
// once, newest first.
func testLogPagination(t *testing.T, f *fixture) {
	var logs []schema.Log
	for i := range 37 {
		level := schema.LevelInfo
		if i%3 == 0 {
			level = schema.LevelError
		}
		// Ids whose order is unrelated to insertion, timestamps colliding.
		logs = append(logs, f.log(fmt.Sprintf("%02x-%d", (i*37)%256, i), baseTime+int64(i/5), level, fmt.Sprintf("record %d", i)))
	}
	for chunk := range slices.Chunk(logs, 10) {
		f.insertLogs(chunk...)
	}
	want := expectLogs(logs)
	require.Equal(t, logIDs(want), logIDs(f.logs(store.LogFilter{})))

	var errs []schema.Log
	for _, l := range want {
		if l.Level == schema.LevelError {
			errs = append(errs, l)
		}
	}
	require.Equal(t, logIDs(errs), logIDs(f.logs(store.LogFilter{MinLevel: schema.LevelError})))
}

// testLogTenantIsolation stores the same event ids under two tenants.
func testLogTenantIsolation(t *testing.T, f *fixture) {
	other := f.other("-other")
	mine := f.log("same", baseTime, schema.LevelError, "mine", logOwner("t", "u", "s"))
	theirs := other.log("same", baseTime, schema.LevelError, "theirs", logOwner("t", "u", "s"))
	f.insertLogs(mine, theirs)
	require.Equal(t, []schema.Log{mine}, f.logs(store.LogFilter{TaskID: "t"}))
	require.Equal(t, []schema.Log{theirs}, other.logs(store.LogFilter{Text: "theirs"}))
	require.Empty(t, other.logs(store.LogFilter{Text: "mine"}))
}

// testLogLimitRequired expects an error rather than an unbounded read.
func testLogLimitRequired(t *testing.T, f *fixture) {
	_, err := f.s.Logs(f.ctx(), store.LogFilter{Tenant: f.tenant})
	require.Error(t, err)
}
