package query_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/schema"
)

// countRows counts the rows of an export body in its format, checking it
// parses whole.
func countRows(t *testing.T, format string, body []byte) int {
	t.Helper()
	switch format {
	case "csv":
		records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		require.NoError(t, err)
		return len(records) - 1 // the header
	case "json":
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(body, &rows))
		return len(rows)
	default:
		n := 0
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			var row map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &row), sc.Text())
			n++
		}
		return n
	}
}

// countedLogs is the real store counting its log reads. The store cannot
// tell whether an export read it page by page or in one walk, so these
// methods are wrapped to count; every answer is still the store's.
type countedLogs struct {
	*duckdb.Store
	pages, streams atomic.Int64
}

func (c *countedLogs) Logs(ctx context.Context, f store.LogFilter) ([]schema.Log, error) {
	c.pages.Add(1)
	return c.Store.Logs(ctx, f)
}

func (c *countedLogs) StreamLogs(ctx context.Context, f store.LogFilter, fn func(schema.Log) error) error {
	c.streams.Add(1)
	return c.Store.StreamLogs(ctx, f, fn)
}

func TestExportStreamsEveryRowInOneWalk(t *testing.T) {
	st := openStore(t)
	const logs, tasks, events = 2500, 1500, 1200
	var lines []schema.Log
	for i := range logs {
		lines = append(lines, schema.Log{EventID: fmt.Sprintf("e%05d", logs-i), Timestamp: t0 - int64(i), Level: schema.LevelInfo, Message: "line, with \"quotes\"\nand a newline"})
	}
	insertLogs(t, st, lines...)
	// Every task has one event, at t0 + its number; t00007 has as many
	// events as it takes to need two pages, all before that one.
	var progress []schema.Progress
	for i := range tasks {
		progress = append(progress, schema.Progress{TaskID: fmt.Sprintf("t%05d", i), Status: schema.StatusCompleted, Timestamp: t0 + int64(i)})
	}
	for i := range int64(events - 1) {
		progress = append(progress, schema.Progress{TaskID: "t00007", Status: schema.StatusRunning, Timestamp: t0 + 7 - events + i, Seq: i + 1})
	}
	insertProgress(t, st, progress...)
	counted := &countedLogs{Store: st}
	a := startAPI(t, query.Deps{Store: counted})

	f := func(query, what, format string, want int) {
		t.Helper()
		pages, streams := counted.pages.Load(), counted.streams.Load()
		r := a.get(t, "/v1/export?"+query)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, `attachment; filename="taskpulse-`+what+`.`+format+`"`, r.header.Get("Content-Disposition"))
		wantType := map[string]string{"csv": "text/csv; charset=utf-8", "json": "application/json", "ndjson": "application/x-ndjson"}[format]
		require.Equal(t, wantType, r.header.Get("Content-Type"))
		require.Equal(t, want, countRows(t, format, r.raw), query)
		if what == "logs" {
			require.Equal(t, int64(1), counted.streams.Load()-streams, "one walk per export")
			require.Equal(t, pages, counted.pages.Load(), "no page read through the listing")
		}
	}
	for _, format := range []string{"csv", "json", "ndjson"} {
		f("what=logs&format="+format, "logs", format, logs)
		f("what=tasks&format="+format, "tasks", format, tasks)
		f("what=events&task_id=t00007,t00008&format="+format, "events", format, events+1)
	}
	f("what=logs&level=WARNING", "logs", "json", 0)
	f("what=tasks&updated_since="+fmt.Sprint(t0+1000), "tasks", "json", tasks-1000)

	r := a.get(t, "/v1/export?what=tasks&format=csv&updated_until="+fmt.Sprint(t0+2))
	records, err := csv.NewReader(bytes.NewReader(r.raw)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "task_id", records[0][0])
	require.Equal(t, []string{"t00001", "t00000"}, []string{records[1][0], records[2][0]}, "newest first")
}

func TestExportSeriesWritesALabelColumnEach(t *testing.T) {
	st := openStore(t)
	cpu := func(ts int64, v float64, labels ...string) schema.Metric {
		m := schema.Metric{Name: "cpu", Timestamp: ts, Value: v, Labels: map[string]string{}}
		for i := 0; i+1 < len(labels); i += 2 {
			m.Labels[labels[i]] = labels[i+1]
		}
		return m
	}
	insertMetrics(t, st, cpu(t0, 1.5, "host", "a"), cpu(t0, 2, "host", "b", "zone", "z1"), cpu(t0+minute, 3, "host", "b", "zone", "z1"))
	a := startAPI(t, allDeps(st))
	r := a.get(t, fmt.Sprintf("/v1/export?what=series&format=csv&name=cpu&group_by=host,zone&from=%d&to=%d&step=1m", t0, t0+3*minute))
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	records, err := csv.NewReader(bytes.NewReader(r.raw)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"t", "name", "host", "zone", "v"},
		{fmt.Sprint(t0), "cpu", "a", "", "1.5"},
		{fmt.Sprint(t0), "cpu", "b", "z1", "2"},
		{fmt.Sprint(t0 + minute), "cpu", "b", "z1", "3"},
	}, records, "empty buckets are left out")
}

func TestExportCSVNeutralisesFormulas(t *testing.T) {
	st := openStore(t)
	const hyperlink = `=HYPERLINK("http://x","y")`
	insertProgress(t, st, schema.Progress{
		TaskID: "t1", TaskName: hyperlink, UserID: "+1 555", CurrentStep: "\tstep", Message: "\rcalc", Error: "-2+3",
		Status: schema.StatusRunning, Timestamp: t0,
	})
	insertLogs(t, st, schema.Log{Level: schema.LevelError, Message: "@SUM(1+1)", Source: "=cmd", Timestamp: t0})
	insertMetrics(t, st, schema.Metric{Name: "temp", Value: -3.5, Timestamp: t0, Labels: map[string]string{"@zone": "-eu"}})
	a := startAPI(t, allDeps(st))

	read := func(query string) map[string]string {
		t.Helper()
		r := a.get(t, "/v1/export?"+query)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		records, err := csv.NewReader(bytes.NewReader(r.raw)).ReadAll()
		require.NoError(t, err)
		require.Len(t, records, 2, string(r.raw))
		row := map[string]string{}
		for i, name := range records[0] {
			row[name] = records[1][i]
		}
		return row
	}
	tasks := read("what=tasks&format=csv")
	require.Equal(t, "'"+hyperlink, tasks["task_name"])
	require.Equal(t, "'+1 555", tasks["user_id"])
	require.Equal(t, "'\tstep", tasks["current_step"])
	require.Equal(t, "'\rcalc", tasks["message"])
	require.Equal(t, "'-2+3", tasks["error"])
	require.Equal(t, "t1", tasks["task_id"], "other text is left alone")

	logs := read("what=logs&format=csv")
	require.Equal(t, "'@SUM(1+1)", logs["message"])
	require.Equal(t, "'=cmd", logs["source"])

	series := read(fmt.Sprintf("what=series&format=csv&name=temp&group_by=%%40zone&from=%d&to=%d&step=1m", t0, t0+minute))
	require.Equal(t, "-3.5", series["v"], "a number the server wrote stays a number")
	require.Equal(t, "'-eu", series["'@zone"], "label names and values are client text")

	// JSON is not read by spreadsheets and stays exactly as stored.
	r := a.get(t, "/v1/export?what=tasks&format=ndjson")
	require.Equal(t, http.StatusOK, r.status)
	var task map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(r.raw), &task))
	require.Equal(t, hyperlink, task["task_name"])
	require.Equal(t, "\rcalc", task["message"])
}
