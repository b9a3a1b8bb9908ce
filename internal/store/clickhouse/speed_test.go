package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/schema"
)

// benchTenant owns the generated events; speedTime is their first
// timestamp (2025-06-15, unix ms).
const (
	benchTenant = "bench"
	speedTime   = int64(1_750_000_000_000)
)

// generateEvents makes the events of the speed measurement on the server,
// which is many times faster than sending them. Event n belongs to task
// n % tasks, so every task gets rows/tasks events spread over the whole
// range; each task keeps one user (of 500) and one type (of 5), its status
// changes from event to event, and its events are a second apart with a
// per-task offset, so tasks finish in an order unlike their ids. The
// version follows the store's scheme, the first copy winning.
const generateEvents = `INSERT INTO progress_events (tenant, task_id, event_id, timestamp, seq, ingest_order, user_id, task_type, task_name, status, progress, current_step, steps_done, steps_total, message, eta, error, attr_keys, attr_values, version)
SELECT
    ?,
    concat('task-', toString(n % ?)),
    concat(hex(cityHash64(n)), '-', toString(n)),
    toInt64(? + intDiv(n, ?) * 1000 + cityHash64(n % ?) % 3600000),
    toInt64(0),
    toInt64(n),
    concat('user-', toString(n % ? % 500)),
    ['scrape', 'build', 'create_skill', 'package', 'index'][n % ? % 5 + 1],
    concat('task ', toString(n % ?)),
    ['pending', 'running', 'paused', 'completed', 'failed', 'cancelled'][cityHash64(n, 1) % 6 + 1],
    if(n % 3 = 0, NULL, toFloat64(n % 101)),
    concat('step ', toString(n % 10)),
    toInt64(n % 10),
    toInt64(10),
    concat('working on item ', toString(n)),
    if(n % 4 = 0, NULL, toInt64(n % 600)),
    '',
    ['host'],
    [concat('worker-', toString(n % 7))],
    toUInt64(18446744073709551615 - n)
FROM (SELECT number + ? AS n FROM numbers(?))`

// TestListingSpeed prints how long the reads the query service makes take
// over a generated history, and how that compares with the same SQL sent
// directly over a plain connection. It is a measurement, not a test: it
// runs only when TASKPULSE_BENCH_ROWS names the number of events, with
// TASKPULSE_BENCH_TASKS tasks (default 20000), and never fails on a time.
//
//	TASKPULSE_CLICKHOUSE_ADDR=127.0.0.1:9000 TASKPULSE_BENCH_ROWS=1000000 \
//	    go test -run TestListingSpeed -v ./internal/store/clickhouse/
func TestListingSpeed(t *testing.T) {
	rows := envInt(t, "TASKPULSE_BENCH_ROWS", 0)
	if rows == 0 {
		t.Skip("set TASKPULSE_BENCH_ROWS (and TASKPULSE_CLICKHOUSE_ADDR) to measure reads over that many events")
	}
	tasks := envInt(t, "TASKPULSE_BENCH_TASKS", 20_000)
	cfg := freshConfig(t)
	rec := &recorder{}
	s := openStore(t, cfg, rec.record)
	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	ctx := t.Context()

	started := time.Now()
	const chunk = 1_000_000
	for from := 0; from < rows; from += chunk {
		n := min(chunk, rows-from)
		require.NoError(t, admin.Exec(ctx, generateEvents,
			benchTenant, tasks, speedTime, tasks, tasks, tasks, tasks, tasks, from, n))
	}
	var parts uint64
	require.NoError(t, admin.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 'progress_events' AND active", cfg.Database).Scan(&parts))
	t.Logf("generated %d events over %d tasks in %s (%d parts)", rows, tasks, time.Since(started).Round(time.Millisecond), parts)

	// A cursor in the middle of the listing, as the second page of a
	// client that pages through everything would send.
	first, err := s.Tasks(ctx, store.TaskFilter{Tenant: benchTenant, Limit: tasks / 2})
	require.NoError(t, err)
	require.Len(t, first, tasks/2)
	mid := first[len(first)-1]
	one := first[len(first)/3]

	cases := []struct {
		name string
		read func(context.Context) error
	}{
		{"Tasks first page", listing(s, store.TaskFilter{Limit: 50})},
		{"Tasks page after cursor", listing(s, store.TaskFilter{Limit: 50, After: &store.TaskCursor{UpdatedAt: mid.UpdatedAt, TaskID: mid.TaskID}})},
		{"Tasks status=running", listing(s, store.TaskFilter{Limit: 50, Statuses: []schema.Status{schema.StatusRunning}})},
		{"Tasks status=failed,type=build", listing(s, store.TaskFilter{Limit: 50, Statuses: []schema.Status{schema.StatusFailed}, TaskType: "build"})},
		{"Tasks user", listing(s, store.TaskFilter{Limit: 50, UserID: "user-42"})},
		{"Tasks updated in last hour", listing(s, store.TaskFilter{Limit: 50, UpdatedSince: first[0].UpdatedAt - 3_600_000})},
		{"Task", func(ctx context.Context) error { _, err := s.Task(ctx, benchTenant, one.TaskID); return err }},
		{"TaskEvents 100", func(ctx context.Context) error {
			_, err := s.TaskEvents(ctx, benchTenant, one.TaskID, store.EventFilter{Limit: 100})
			return err
		}},
	}
	const runs = 60
	t.Logf("%-32s %9s %9s %9s %9s %7s %7s", "read", "p50", "p99", "direct50", "direct99", "x p50", "x p99")
	for _, c := range cases {
		require.NoError(t, c.read(ctx)) // warm the caches
		rec.start()
		require.NoError(t, c.read(ctx))
		statements := rec.stop()

		viaStore := measure(t, runs, func() error { return c.read(ctx) })
		direct := measure(t, runs, func() error {
			for _, q := range statements {
				if err := drain(ctx, admin, q); err != nil {
					return err
				}
			}
			return nil
		})
		t.Logf("%-32s %9s %9s %9s %9s %7.2f %7.2f", c.name,
			ms(viaStore[0]), ms(viaStore[1]), ms(direct[0]), ms(direct[1]),
			float64(viaStore[0])/float64(direct[0]), float64(viaStore[1])/float64(direct[1]))
	}
}

func listing(s *clickhouse.Store, f store.TaskFilter) func(context.Context) error {
	f.Tenant = benchTenant
	return func(ctx context.Context) error {
		_, err := s.Tasks(ctx, f)
		return err
	}
}

// measure runs read n times and returns its p50 and p99.
func measure(t *testing.T, n int, read func() error) [2]time.Duration {
	t.Helper()
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		require.NoError(t, read())
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return [2]time.Duration{times[n/2], times[(n*99)/100]}
}

// drain runs a statement the store sent, arguments already bound, and
// reads every row, as the store does.
func drain(ctx context.Context, conn ch.Conn, query string) error {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	values := make([]any, len(rows.ColumnTypes()))
	for i, ct := range rows.ColumnTypes() {
		values[i] = reflect.New(ct.ScanType()).Interface()
	}
	for rows.Next() {
		if err := rows.Scan(values...); err != nil {
			return err
		}
	}
	return rows.Err()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// recorder keeps the statements a store sends between start and stop.
type recorder struct {
	mu     sync.Mutex
	on     bool
	stored []string
}

func (r *recorder) record(q string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on {
		r.stored = append(r.stored, q)
	}
}

func (r *recorder) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on, r.stored = true, nil
}

func (r *recorder) stop() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.stored
}
