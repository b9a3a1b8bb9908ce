package query_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
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

func TestExportStreamsEveryRowPageByPage(t *testing.T) {
	m := newMemStore()
	const logs, tasks, events = 2500, 1500, 1200
	for i := range logs {
		m.logs = append(m.logs, schema.Log{Tenant: "default", EventID: fmt.Sprintf("e%05d", logs-i), Timestamp: t0 - int64(i), Level: schema.LevelInfo, Message: "line, with \"quotes\"\nand a newline"})
	}
	for i := range tasks {
		m.tasks = append(m.tasks, store.Task{Tenant: "default", TaskID: fmt.Sprintf("t%05d", i), Status: schema.StatusCompleted, CreatedAt: t0, UpdatedAt: t0 + int64(i)})
	}
	for i := range events {
		m.events["t00007"] = append(m.events["t00007"], schema.Progress{Tenant: "default", TaskID: "t00007", EventID: fmt.Sprint(i), Seq: int64(i + 1), Status: schema.StatusRunning})
	}
	m.events["t00008"] = []schema.Progress{{Tenant: "default", TaskID: "t00008", Seq: 1, Status: schema.StatusRunning}}
	a := startAPI(t, allDeps(m))

	f := func(query, what, format string, want int) {
		t.Helper()
		before := m.listingReads()
		r := a.get(t, "/v1/export?"+query)
		require.Equal(t, http.StatusOK, r.status, string(r.raw))
		require.Equal(t, `attachment; filename="taskpulse-`+what+`.`+format+`"`, r.header.Get("Content-Disposition"))
		wantType := map[string]string{"csv": "text/csv; charset=utf-8", "json": "application/json", "ndjson": "application/x-ndjson"}[format]
		require.Equal(t, wantType, r.header.Get("Content-Type"))
		require.Equal(t, want, countRows(t, format, r.raw), query)
		if what == "logs" && want > 2000 {
			require.Greater(t, m.listingReads()-before, 2, "read page by page")
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
	m := newMemStore()
	m.series = []store.Series{
		{Labels: map[string]string{"host": "a"}, Points: []store.Point{{T: t0, V: 1.5}}},
		{Labels: map[string]string{"host": "b", "zone": "z1"}, Points: []store.Point{{T: t0, V: 2}, {T: t0 + minute, V: 3}}},
	}
	a := startAPI(t, allDeps(m))
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
