package clickhouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/internal/store/storetest"
	"github.com/taskpulse/taskpulse/schema"
)

// captured holds every statement the stores under test sent, for the
// modern-SQL check (deploy/chdb-check.sh), when TASKPULSE_SQL_CAPTURE names
// a file to write them to.
var captured = struct {
	sync.Mutex
	seen  map[string]bool
	order []string
}{seen: map[string]bool{}}

func capture(query string) {
	captured.Lock()
	defer captured.Unlock()
	if !captured.seen[query] {
		captured.seen[query] = true
		captured.order = append(captured.order, query)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if path := os.Getenv("TASKPULSE_SQL_CAPTURE"); path != "" && code == 0 {
		if err := writeCapture(path); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// writeCapture writes one JSON string per line, since statements span
// lines and may hold any character.
func writeCapture(path string) error {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, q := range captured.order {
		if err := enc.Encode(q); err != nil {
			return fmt.Errorf("encode captured SQL: %w", err)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write captured SQL: %w", err)
	}
	return nil
}

// serverAddr returns the server the tests use. In CI a missing server is a
// failure; elsewhere the tests skip, so `go test ./...` needs no services.
func serverAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("TASKPULSE_CLICKHOUSE_ADDR")
	switch {
	case addr != "":
		return addr
	case os.Getenv("CI") == "true":
		t.Fatal("TASKPULSE_CLICKHOUSE_ADDR is not set; CI must run the ClickHouse store tests (start a server with deploy/clickhouse.sh start)")
	default:
		t.Skip("TASKPULSE_CLICKHOUSE_ADDR is not set; start a server with deploy/clickhouse.sh start and set TASKPULSE_CLICKHOUSE_ADDR=127.0.0.1:9000 to run these tests")
	}
	return ""
}

// freshConfig returns a configuration naming a database of its own, which
// is dropped when the test ends.
func freshConfig(t testing.TB) clickhouse.Config {
	t.Helper()
	cfg := clickhouse.DefaultConfig()
	cfg.Addr = []string{serverAddr(t)}
	cfg.Database = fmt.Sprintf("taskpulse_test_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		admin := adminConn(t, "")
		defer admin.Close()
		require.NoError(t, admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database))
	})
	return cfg
}

// adminConn is a plain connection for what the tests do behind the
// store's back, such as forcing merges; its statements are not captured.
func adminConn(t testing.TB, database string) ch.Conn {
	t.Helper()
	conn, err := ch.Open(&ch.Options{Addr: []string{serverAddr(t)}, Auth: ch.Auth{Database: database}})
	require.NoError(t, err)
	return conn
}

// openStore opens a store whose statements are captured and also passed
// to watch, when given.
func openStore(t testing.TB, cfg clickhouse.Config, watch func(query string)) *clickhouse.Store {
	t.Helper()
	log := capture
	if watch != nil {
		log = func(q string) {
			capture(q)
			watch(q)
		}
	}
	s, err := clickhouse.Open(t.Context(), cfg, clickhouse.WithQueryLog(log))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	serverAddr(t)
	storetest.Run(t, func(t testing.TB) store.Store {
		return openStore(t, freshConfig(t), nil)
	})
}

func serverVersion(t *testing.T, conn ch.Conn) []int {
	t.Helper()
	var v string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT version()").Scan(&v))
	var parts []int
	for p := range strings.SplitSeq(v, ".") {
		var n int
		_, err := fmt.Sscan(p, &n)
		require.NoError(t, err)
		parts = append(parts, n)
	}
	return parts
}

// TestMigrations checks that migrations are recorded once, that tuning
// migrations are skipped (and left unrecorded) on servers older than they
// need, and that migrating an up-to-date database changes nothing.
func TestMigrations(t *testing.T) {
	cfg := freshConfig(t)
	ctx := t.Context()

	first, err := clickhouse.Migrate(ctx, cfg, clickhouse.WithQueryLog(capture))
	require.NoError(t, err)
	require.NotEmpty(t, first)
	require.Equal(t, clickhouse.MigrationResult{Version: 1, Name: "progress_events", Status: clickhouse.MigrationApplied}, first[0])

	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	modern := slices.Compare(serverVersion(t, admin), []int{20, 1}) >= 0
	// Base migrations run on every server; the rest are tuning migrations.
	var base, applied, skipped []int
	for _, r := range first {
		if r.Requires == "" {
			require.Equal(t, clickhouse.MigrationApplied, r.Status, "base migration %d", r.Version)
			base = append(base, r.Version)
			continue
		}
		switch r.Status {
		case clickhouse.MigrationApplied:
			applied = append(applied, r.Version)
		case clickhouse.MigrationSkipped:
			skipped = append(skipped, r.Version)
		}
	}
	if modern {
		require.Empty(t, skipped, "a server of 20.1 or newer takes every tuning migration")
	} else {
		require.Empty(t, applied, "a server older than 20.1 takes no tuning migration")
	}

	recorded := func() []uint32 {
		rows, err := admin.Query(ctx, "SELECT version FROM taskpulse_migrations ORDER BY version")
		require.NoError(t, err)
		defer rows.Close()
		var vs []uint32
		for rows.Next() {
			var v uint32
			require.NoError(t, rows.Scan(&v))
			vs = append(vs, v)
		}
		require.NoError(t, rows.Err())
		return vs
	}
	var want []uint32
	for _, v := range append(base, applied...) {
		want = append(want, uint32(v))
	}
	slices.Sort(want)
	require.Equal(t, want, recorded())

	// Migrating again applies nothing and reports only what the server is
	// still too old for.
	second, err := clickhouse.Migrate(ctx, cfg, clickhouse.WithQueryLog(capture))
	require.NoError(t, err)
	for _, r := range second {
		require.Equal(t, clickhouse.MigrationSkipped, r.Status)
		require.Contains(t, skipped, r.Version)
	}
	require.Len(t, second, len(skipped))

	// Opening the store migrates too, and sends no migration's DDL again.
	var reopened []string
	openStore(t, cfg, func(q string) { reopened = append(reopened, q) })
	require.Equal(t, want, recorded())
	require.NotEmpty(t, reopened)
	for _, q := range reopened {
		require.NotContains(t, q, "progress_events", "re-opening ran %q", q)
		require.NotContains(t, q, "task_summary", "re-opening ran %q", q)
	}
}

// TestFirstCopySurvivesMerge checks the version scheme: when the server
// merges the copies of an event, the one stored first stays.
func TestFirstCopySurvivesMerge(t *testing.T) {
	cfg := freshConfig(t)
	s := openStore(t, cfg, nil)
	ctx := t.Context()
	const ts = int64(1_750_000_000_000)
	p := func(v float64) *float64 { return &v }

	original := schema.Progress{Tenant: "acme", TaskID: "t1", EventID: "e1", Timestamp: ts, Status: schema.StatusRunning, Progress: p(10), Message: "original"}
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{original}))
	impostor := original
	impostor.Timestamp, impostor.Status, impostor.Progress, impostor.Message = ts+5, schema.StatusFailed, p(90), "impostor"
	require.NoError(t, s.InsertProgress(ctx, []schema.Progress{impostor}))

	admin := adminConn(t, cfg.Database)
	defer admin.Close()
	require.NoError(t, admin.Exec(ctx, "OPTIMIZE TABLE progress_events FINAL"))
	var rows uint64
	require.NoError(t, admin.QueryRow(ctx, "SELECT count() FROM progress_events").Scan(&rows))
	require.Equal(t, uint64(1), rows, "the merge keeps one copy")

	events, err := s.TaskEvents(ctx, "acme", "t1", store.EventFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "original", events[0].Message)
	task, err := s.Task(ctx, "acme", "t1")
	require.NoError(t, err)
	require.Equal(t, schema.StatusRunning, task.Status)
	require.Equal(t, 10.0, task.Progress)
}

// TestQueryLog checks that the query log sees statements with their
// arguments bound, which the modern-SQL check depends on.
func TestQueryLog(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	s := openStore(t, freshConfig(t), func(q string) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, q)
	})
	_, err := s.Task(t.Context(), "tenant-with-'quote", "no-such-task")
	require.ErrorIs(t, err, store.ErrNotFound)

	mu.Lock()
	defer mu.Unlock()
	require.True(t, slices.ContainsFunc(logged, func(q string) bool { return strings.HasPrefix(q, "CREATE TABLE IF NOT EXISTS progress_events") }), "DDL is logged")
	require.True(t, slices.ContainsFunc(logged, func(q string) bool { return strings.Contains(q, `tenant = 'tenant-with-\'quote'`) }), "queries are logged with bound arguments: %q", logged)
}
