package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fetch GETs a path and returns the raw answer, for bodies that are not
// one JSON object (exports).
func (s *server) fetch(t testing.TB, path string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(s.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, raw
}

// exportRows counts the rows of an export, checking its headers and that
// the body parses whole in its format.
func (s *server) exportRows(t testing.TB, what, format, query string) int {
	t.Helper()
	status, header, raw := s.fetch(t, "/v1/export?what="+what+"&format="+format+query)
	require.Equal(t, http.StatusOK, status, string(raw))
	require.Equal(t, `attachment; filename="taskpulse-`+what+`.`+format+`"`, header.Get("Content-Disposition"))
	wantType := map[string]string{"csv": "text/csv", "json": "application/json", "ndjson": "application/x-ndjson"}[format]
	require.True(t, strings.HasPrefix(header.Get("Content-Type"), wantType), header.Get("Content-Type"))
	switch format {
	case "csv":
		records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		require.NoError(t, err)
		return len(records) - 1
	case "json":
		var rows []json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &rows))
		return len(rows)
	}
	n := 0
	for sc := bufio.NewScanner(bytes.NewReader(raw)); sc.Scan(); n++ {
		require.True(t, json.Valid(sc.Bytes()), sc.Text())
	}
	return n
}

func requireBadParameter(t *testing.T, srv *server, path, param string) {
	t.Helper()
	r := srv.get(t, "", path)
	require.Equal(t, http.StatusBadRequest, r.status, "%s: %v", path, r.body)
	e := r.body["error"].(map[string]any)
	require.Equal(t, "invalid_parameter", e["code"], path)
	require.Equal(t, param, e["details"].([]any)[0].(map[string]any)["parameter"], path)
}

func TestChartsAndExportsOverStoredTasks(t *testing.T) {
	srv := startServer(t)
	const tasks = 1100 // more than one store page of 1000
	base := time.Now().Add(-30 * time.Minute).UnixMilli()
	var batch []string
	post := func() {
		r := srv.post(t, "", progressBody(batch...))
		require.Equal(t, http.StatusAccepted, r.status, r.body)
		batch = batch[:0]
	}
	for i := range tasks {
		id, start := fmt.Sprintf("job-%04d", i), base+int64(i)*100
		end, status := start+int64(i%7+1)*300, "completed"
		if i%5 == 0 {
			status = "failed"
		}
		batch = append(batch,
			fmt.Sprintf(`{"task_id":%q,"task_type":"build","status":"running","progress":10,"timestamp":%d}`, id, start),
			fmt.Sprintf(`{"task_id":%q,"task_type":"build","status":%q,"timestamp":%d}`, id, status, end))
		if len(batch) == 500 {
			post()
		}
	}
	post()
	require.Eventually(t, func() bool {
		return srv.exportRows(t, "tasks", "json", "&status=completed,failed") == tasks
	}, 20*time.Second, 50*time.Millisecond)

	for _, format := range []string{"csv", "json", "ndjson"} {
		require.Equal(t, tasks, srv.exportRows(t, "tasks", format, ""), format)
		require.Equal(t, 2*tasks, srv.exportRows(t, "events", format, ""), format)
	}
	require.Equal(t, tasks/5, srv.exportRows(t, "tasks", "csv", "&status=failed"))
	require.Equal(t, 4, srv.exportRows(t, "events", "ndjson", "&task_id=job-0001,job-0002"))

	window := fmt.Sprintf("&from=%d&to=%d", base, time.Now().UnixMilli())
	scatter := srv.get(t, "", "/v1/charts/scatter?task_type=build"+window)
	require.Equal(t, http.StatusOK, scatter.status, scatter.body)
	require.Equal(t, "scatter", scatter.body["kind"])
	points := scatter.body["points"].([]any)
	require.Len(t, points, tasks)
	durations := map[string]float64{}
	for _, p := range points {
		p := p.(map[string]any)
		durations[p["id"].(string)] = p["y"].(float64)
	}
	require.Equal(t, 300.0, durations["job-1099"])
	require.Equal(t, 2100.0, durations["job-1098"])

	heat := srv.get(t, "", "/v1/charts/heatmap?step=1m"+window)
	require.Equal(t, http.StatusOK, heat.status, heat.body)
	total := 0.0
	for _, col := range heat.body["counts"].([]any) {
		require.Len(t, col, len(heat.body["y"].([]any)))
		for _, n := range col.([]any) {
			total += n.(float64)
		}
	}
	require.Equal(t, float64(tasks), total)
	require.Equal(t, []any{256.0, 512.0, 1024.0, 2048.0}, heat.body["y"], "300 ms to 2.1 s on a log2 scale")

	table := srv.get(t, "", "/v1/charts/table?source=task_durations&status=failed"+window)
	require.Equal(t, http.StatusOK, table.status, table.body)
	require.Len(t, table.body["rows"], tasks/5)
	require.Len(t, table.body["columns"], 5)

	requireBadParameter(t, srv, "/v1/charts/radar", "kind")
	requireBadParameter(t, srv, "/v1/charts/scatter?status=running", "status")
	requireBadParameter(t, srv, "/v1/charts/scatter?colour=red", "colour")
	requireBadParameter(t, srv, "/v1/export?what=tasks&format=xlsx", "format")
	requireBadParameter(t, srv, "/v1/export?what=everything", "what")
	requireBadParameter(t, srv, "/v1/export?what=tasks&updated_since=soon", "updated_since")
}

func TestLogSearchAndExport(t *testing.T) {
	srv := startServer(t)

	const logs = 1500
	base := time.Now().Add(-10 * time.Minute).UnixMilli()
	var lines []string
	for i := range logs {
		level, region := "INFO", "us"
		if i%10 == 0 {
			level, region = "ERROR", "eu"
		}
		lines = append(lines, fmt.Sprintf(`{"level":%q,"message":"step %d done","task_id":"job-%d","timestamp":%d,"attributes":{"region":%q}}`,
			level, i, i%3, base+int64(i), region))
	}
	r := srv.do(t, http.MethodPost, "/v1/logs", "", "application/x-ndjson", strings.Join(lines, "\n"))
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Eventually(t, func() bool {
		return srv.exportRows(t, "logs", "ndjson", "&since="+fmt.Sprint(base)) == logs
	}, 20*time.Second, 50*time.Millisecond)

	for _, format := range []string{"csv", "json"} {
		require.Equal(t, logs, srv.exportRows(t, "logs", format, "&since="+fmt.Sprint(base)), format)
	}
	page := srv.get(t, "", "/v1/logs?level=error&limit=100&attr="+url.QueryEscape("region=eu")+"&since="+fmt.Sprint(base))
	require.Equal(t, http.StatusOK, page.status, page.body)
	got := page.body["logs"].([]any)
	require.Len(t, got, 100)
	first := got[0].(map[string]any)
	require.Equal(t, "ERROR", first["level"])
	require.Equal(t, fmt.Sprintf("step %d done", logs-10), first["message"], "newest first")
	rest := srv.get(t, "", "/v1/logs?level=ERROR&limit=100&since="+fmt.Sprint(base)+"&cursor="+page.body["next_cursor"].(string))
	require.Len(t, rest.body["logs"], logs/10-100)
	task := srv.get(t, "", "/v1/tasks/job-1/logs?limit=1000&text=done&since="+fmt.Sprint(base))
	require.Len(t, task.body["logs"], logs/3)

	requireBadParameter(t, srv, "/v1/logs?level=LOUD", "level")
	requireBadParameter(t, srv, "/v1/logs?attr=region", "attr")
	requireBadParameter(t, srv, "/v1/logs?text_mode=regex", "text_mode")
	requireBadParameter(t, srv, "/v1/tasks/job-1/logs?task_id=job-2", "task_id")
}

func TestMetricSeriesOverStoredSamples(t *testing.T) {
	srv := startServer(t)

	m0 := time.Now().Add(-20*time.Minute).UnixMilli() / 60_000 * 60_000
	sample := func(at int64, v float64) string {
		return fmt.Sprintf(`{"name":"jobs_total","kind":"counter","value":%g,"timestamp":%d,"labels":{"host":"a"}}`, v, at+5_000)
	}
	body := progressBody(
		sample(m0-60_000, 100), // the bucket before from
		sample(m0, 160),
		sample(m0+60_000, 10), // the process restarted
		sample(m0+120_000, 70),
	)
	r := srv.do(t, http.MethodPost, "/v1/metrics", "", "application/json", body)
	require.Equal(t, http.StatusAccepted, r.status, r.body)

	path := fmt.Sprintf("/v1/metrics/series?name=jobs_total&agg=rate&group_by=host&from=%d&to=%d&step=1m", m0, m0+300_000)
	var values []any
	require.Eventually(t, func() bool {
		got := srv.get(t, "", path)
		require.Equal(t, http.StatusOK, got.status, got.body)
		series := got.body["series"].([]any)
		if len(series) != 1 {
			return false
		}
		values = values[:0]
		for _, p := range series[0].(map[string]any)["points"].([]any) {
			values = append(values, p.(map[string]any)["v"])
		}
		return values[2] != nil
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, []any{1.0, 10.0 / 60, 1.0, nil, nil}, values, "empty buckets stay, as null")

	line := srv.get(t, "", fmt.Sprintf("/v1/charts/line?name=jobs_total&agg=max&from=%d&to=%d&step=1m", m0, m0+180_000))
	require.Equal(t, http.StatusOK, line.status, line.body)
	require.Equal(t, []any{160.0, 10.0, 70.0}, line.body["series"].([]any)[0].(map[string]any)["values"])
	gauge := srv.get(t, "", fmt.Sprintf("/v1/charts/gauge?name=jobs_total&agg=last&from=%d&to=%d&step=1m", m0, m0+180_000))
	require.Equal(t, 70.0, gauge.body["value"])
	require.Equal(t, 3, srv.exportRows(t, "series", "csv", fmt.Sprintf("&name=jobs_total&from=%d&to=%d&step=1m&group_by=host", m0, m0+180_000)))

	requireBadParameter(t, srv, "/v1/metrics/series", "name")
	requireBadParameter(t, srv, "/v1/metrics/series?name=m&agg=mean", "agg")
	requireBadParameter(t, srv, "/v1/metrics/series?name=m&from=1000&to=86401000&step=1s", "step")
	requireBadParameter(t, srv, "/v1/metrics/series?name=m&match="+url.QueryEscape("host=~("), "match")
}

func TestStatsOverviewAndPie(t *testing.T) {
	srv := startServer(t)
	base := time.Now().Add(-5 * time.Minute).UnixMilli()
	r := srv.post(t, "", progressBody(
		fmt.Sprintf(`{"task_id":"a","task_type":"scrape","status":"failed","timestamp":%d}`, base),
		fmt.Sprintf(`{"task_id":"b","task_type":"scrape","status":"completed","timestamp":%d}`, base),
		fmt.Sprintf(`{"task_id":"c","task_type":"build","status":"running","timestamp":%d}`, base),
	))
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	srv.waitTask(t, "", "c", "running", 1)
	srv.waitTask(t, "", "a", "failed", 1)
	srv.waitTask(t, "", "b", "completed", 1)

	o := srv.get(t, "", "/v1/stats/overview?from="+fmt.Sprint(base-60_000))
	require.Equal(t, http.StatusOK, o.status, o.body)
	require.Equal(t, 0.5, o.body["failure_rate"])
	require.Equal(t, "scrape", o.body["top_failing"].([]any)[0].(map[string]any)["task_type"])
	pie := srv.get(t, "", "/v1/charts/pie?from="+fmt.Sprint(base-60_000))
	require.Equal(t, http.StatusOK, pie.status, pie.body)
	slices := map[string]float64{}
	for _, s := range pie.body["slices"].([]any) {
		s := s.(map[string]any)
		slices[s["label"].(string)] = s["value"].(float64)
	}
	require.Equal(t, map[string]float64{"pending": 0, "running": 1, "paused": 0, "completed": 1, "failed": 1, "cancelled": 0}, slices)
	requireBadParameter(t, srv, "/v1/stats/overview?step=fast", "step")
}

func TestDashboardsAreKeptPerTenant(t *testing.T) {
	srv := startServer(t, "--api-keys", keyAlpha+"=alpha,"+keyBeta+"=beta")
	created := srv.do(t, http.MethodPost, "/v1/dashboards", keyAlpha, "application/json",
		`{"title":"Jobs","panels":[{"title":"Durations","chart":"heatmap","query":{"task_type":"build"}}]}`)
	require.Equal(t, http.StatusCreated, created.status, created.body)
	id := created.body["id"].(string)

	require.Equal(t, http.StatusNotFound, srv.get(t, keyBeta, "/v1/dashboards/"+id).status, "another tenant cannot see it")
	require.Empty(t, srv.get(t, keyBeta, "/v1/dashboards").body["dashboards"])

	updated := srv.do(t, http.MethodPut, "/v1/dashboards/"+id, keyAlpha, "application/json", `{"title":"Jobs v2","panels":[]}`)
	require.Equal(t, http.StatusOK, updated.status, updated.body)
	require.Equal(t, float64(2), updated.body["version"])
	require.Equal(t, "Jobs v2", srv.get(t, keyAlpha, "/v1/dashboards/"+id).body["title"])

	bad := srv.do(t, http.MethodPost, "/v1/dashboards", keyAlpha, "application/json", `{"panels":[{"title":"x","chart":"radar"}]}`)
	require.Equal(t, http.StatusBadRequest, bad.status)
	var fields []any
	for _, d := range bad.body["error"].(map[string]any)["details"].([]any) {
		fields = append(fields, d.(map[string]any)["field"])
	}
	require.Equal(t, []any{"title", "panels[0].chart"}, fields)

	require.Equal(t, http.StatusNoContent, srv.do(t, http.MethodDelete, "/v1/dashboards/"+id, keyAlpha, "", "").status)
	require.Equal(t, http.StatusNotFound, srv.get(t, keyAlpha, "/v1/dashboards/"+id).status)
}
