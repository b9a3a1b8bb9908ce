package writer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

func logRecord(t *testing.T, id, task string, ts int64) bus.Record {
	t.Helper()
	l := schema.Log{Tenant: "acme", EventID: id, Timestamp: ts, TaskID: task, Level: schema.LevelWarning, Message: "slow page " + id}
	b, err := schema.EncodeLog(&l)
	require.NoError(t, err)
	return bus.Record{Topic: schema.TopicLogs, Key: []byte(task), Value: b}
}

func metricRecord(t *testing.T, id string, ts int64, v float64) bus.Record {
	t.Helper()
	m := schema.Metric{Tenant: "acme", EventID: id, Timestamp: ts, Name: "pages_fetched", Kind: schema.KindCounter, Value: v, Labels: map[string]string{"site": "docs"}}
	b, err := schema.EncodeMetric(&m)
	require.NoError(t, err)
	return bus.Record{Topic: schema.TopicMetrics, Key: []byte(m.Name), Value: b}
}

func TestWriterStoresLogsAndMetricsOnce(t *testing.T) {
	b, st, w := openPipeline(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const t0 = int64(1_700_000_040_000)
	batch := []bus.Record{
		progressRecord(t, "job", 1, schema.StatusRunning, 10),
		logRecord(t, "l1", "job", t0),
		metricRecord(t, "m1", t0, 5),
		bus.Record{Topic: schema.TopicLogs, Key: []byte("bad"), Value: []byte(`{"message":"no tenant"}`)},
		bus.Record{Topic: schema.TopicMetrics, Key: []byte("bad"), Value: []byte(`{`)},
		logRecord(t, "l2", "job", t0+1),
		metricRecord(t, "m2", t0+1000, 8),
	}
	require.NoError(t, b.Publish(ctx, batch...))
	go w.Run(ctx)

	query := store.SeriesQuery{Tenant: "acme", Name: "pages_fetched", From: t0, To: t0 + 60_000, Step: 60_000, Agg: store.AggCount}
	require.Eventually(t, func() bool {
		logs, err := st.Logs(ctx, store.LogFilter{Tenant: "acme", TaskID: "job", Limit: 10})
		require.NoError(t, err)
		series, err := st.MetricSeries(ctx, query)
		require.NoError(t, err)
		return len(logs) == 2 && len(series) == 1 && series[0].Points[0].V == 2
	}, 5*time.Second, 10*time.Millisecond)

	// A redelivered batch, mixed as it was, changes nothing.
	require.NoError(t, w.Handle(ctx, []bus.Record{batch[1], batch[2], batch[5], batch[6]}))
	logs, err := st.Logs(ctx, store.LogFilter{Tenant: "acme", Limit: 10})
	require.NoError(t, err)
	require.Len(t, logs, 2)
	require.Equal(t, "l2", logs[0].EventID, "newest first")
	query.Agg = store.AggSum
	series, err := st.MetricSeries(ctx, query)
	require.NoError(t, err)
	require.Equal(t, 13.0, series[0].Points[0].V)
}

func TestWriterDeadLettersUndecodableLogsAndMetrics(t *testing.T) {
	b, _, w := openPipeline(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, w.Handle(ctx, []bus.Record{
		{Topic: schema.TopicLogs, Key: []byte("bad"), Value: []byte(`{"message":"no tenant"}`), Offset: 4},
		{Topic: schema.TopicMetrics, Key: []byte("bad"), Value: []byte(`{`), Offset: 9},
	}))
	var dead []bus.Record
	err := b.Consume(ctx, "dl", []string{schema.TopicDeadLetter}, bus.ConsumeOptions{MaxBatch: 10, MaxWait: time.Millisecond}, func(_ context.Context, recs []bus.Record) error {
		dead = append(dead, recs...)
		if len(dead) >= 2 {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	require.Len(t, dead, 2)
	require.Equal(t, schema.TopicLogs, dead[0].Headers["original_topic"])
	require.Contains(t, dead[0].Headers["reason"], "decode log record: missing tenant")
	require.Equal(t, "4", dead[0].Headers["original_offset"])
	require.Equal(t, schema.TopicMetrics, dead[1].Headers["original_topic"])
	require.Contains(t, dead[1].Headers["reason"], "decode metric record")
}
