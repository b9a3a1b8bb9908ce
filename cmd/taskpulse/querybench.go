package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// querybench times the queries the query API and alerting send to a
// store most, on a data set such as datagen makes, and beside each the
// same SQL run directly on the store: what the store adds over its
// database is the ratio of the two. It then evaluates many metric and log
// alert rules once each, as the alerting service does at the end of a
// rule interval, and prints evaluations per second.
//
// The direct SQL is exactly what the store sent, captured through the
// store's query log with its arguments, and run again on the same
// database: on ClickHouse over a connection of its own, on DuckDB
// through database/sql on the store's own database instance. Store and
// direct runs alternate, so that both see the same load on a shared
// machine.
func querybench(ctx context.Context, args []string) error {
	return runQuerybench(ctx, args, os.Stdout)
}

func runQuerybench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("querybench", flag.ContinueOnError)
	var f benchFlags
	f.register(fs)
	fs.Lookup("end").Usage = "end of the data, unix ms or RFC 3339 (default the newest task update in the store)"
	tenant := fs.String("tenant", auth.DefaultTenant, "tenant to query")
	runs := fs.Int("runs", 50, "timed runs of each query")
	warmup := fs.Int("warmup", 2, "untimed runs of each query before")
	limit := fs.Duration("time-limit", time.Minute, "how long the runs of one query, or the rule evaluations, may go on once they have 5 timings")
	nRules := fs.Int("alert-rules", 1000, "metric_threshold and error_log_rate rules to evaluate (0 skips)")
	concurrency := fs.Int("alert-concurrency", 8, "rule evaluations at once")
	if err := f.parse(fs, args); err != nil {
		return err
	}
	if *runs <= 0 || *warmup < 0 || *nRules < 0 || *concurrency <= 0 {
		return errors.New("--runs and --alert-concurrency must be positive, --warmup and --alert-rules not negative")
	}
	endSet := false
	fs.Visit(func(fl *flag.Flag) { endSet = endSet || fl.Name == "end" })

	capture := &sqlCapture{}
	st, err := f.open(ctx, capture.add)
	if err != nil {
		return err
	}
	b, err := newBench(ctx, st, &f, *tenant, endSet)
	if err != nil {
		st.Close()
		return err
	}
	b.runs, b.warmup, b.limit = *runs, *warmup, *limit
	fmt.Fprintf(out, "querybench: %s, tenant %q, %s to %s, %d runs each after %d warm-up\n", f.storeName(), b.tenant,
		time.UnixMilli(b.from).UTC().Format(time.RFC3339), time.UnixMilli(b.to).UTC().Format(time.RFC3339), b.runs, b.warmup)
	queries := b.queries()
	rules, err := b.timeAll(ctx, &f, queries, capture, *nRules, *concurrency)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	printQueries(out, queries)
	if rules != nil {
		rules.print(out)
	}
	return nil
}

// bench is one run's store, the signals it keeps, and what is queried.
type bench struct {
	st       store.Store
	logs     store.LogStore    // nil when the store keeps no logs
	series   store.MetricStore // nil when it keeps no metrics
	stats    store.StatsStore  // nil when it computes no statistics
	tenant   string
	from, to int64
	days     int
	taskID   string // a task with many events
	runs     int
	warmup   int
	limit    time.Duration
}

// minTimings is how many timings a query or the rules get at the least,
// whatever the time limit.
const minTimings = 5

func newBench(ctx context.Context, st store.Store, f *benchFlags, tenant string, endSet bool) (*bench, error) {
	b := &bench{st: st, tenant: tenant, days: f.days}
	b.logs, _ = st.(store.LogStore)
	b.series, _ = st.(store.MetricStore)
	b.stats, _ = st.(store.StatsStore)
	newest, err := st.Tasks(ctx, store.TaskFilter{Tenant: tenant, Limit: 100})
	if err != nil {
		return nil, err
	}
	if len(newest) == 0 {
		return nil, fmt.Errorf("tenant %q has no tasks in %s: run datagen first", tenant, f.storeName())
	}
	if !endSet {
		f.end = time.UnixMilli(newest[0].UpdatedAt + 1)
	}
	b.from, b.to = f.from(), f.end.UnixMilli()
	top := slices.MaxFunc(newest, func(a, c store.Task) int { return int(a.Events - c.Events) })
	b.taskID = top.TaskID
	return b, nil
}

// timeAll times every query the store can answer, then evaluates the
// alert rules.
func (b *bench) timeAll(ctx context.Context, f *benchFlags, queries []benchQuery, capture *sqlCapture, nRules, concurrency int) (*ruleResults, error) {
	direct, closer, err := openDirect(ctx, f)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	for i := range queries {
		if queries[i].run == nil {
			continue
		}
		if err := b.time(ctx, &queries[i], direct, capture); err != nil {
			return nil, err
		}
	}
	return b.evalRules(ctx, nRules, concurrency)
}

// sqlStmt is one statement with its arguments.
type sqlStmt struct {
	query string
	args  []any
}

// benchQuery is one query: the store call, the SQL that call sends, and
// their timings.
type benchQuery struct {
	name string
	// run calls the store and says how many items it returned; nil when
	// the store does not keep what the query reads.
	run      func(ctx context.Context) (int, error)
	captured []sqlStmt // the store's statements for it
	items    int
	store    []time.Duration
	direct   []time.Duration
}

// Queries name the data datagen makes: its heaviest user, a task type, a
// log token and a popular site.
const (
	benchUser     = "user-1"
	benchTaskType = "package_skill"
	benchToken    = "timeout"
	benchSite     = "react.dev"
	benchMetric   = "worker_cpu_percent"
)

func (b *bench) queries() []benchQuery {
	tasks := func(f store.TaskFilter) store.TaskFilter {
		f.Tenant, f.Limit = b.tenant, 100
		return f
	}
	logs := func(f store.LogFilter) store.LogFilter {
		f.Tenant, f.Limit = b.tenant, 100
		return f
	}
	hour, day := int64(3600_000), int64(86_400_000)
	span := fmt.Sprintf("%dd", b.days)
	// Steps are those the query API picks for about 120 buckets
	// (query/step.go); a step of whole minutes starts on a multiple of
	// itself, which lets the store read its one-minute rollup.
	long := (b.to - b.from + 120*hour - 1) / (120 * hour) * hour
	aligned := func(from, step int64) int64 {
		if step%store.RollupStep == 0 {
			from -= from % step
		}
		return from
	}
	series := func(from, step int64, agg store.Aggregation, groupBy ...string) store.SeriesQuery {
		return store.SeriesQuery{Tenant: b.tenant, Name: benchMetric, From: aligned(from, step), To: b.to, Step: step, Agg: agg, GroupBy: groupBy}
	}
	return []benchQuery{
		b.taskList("tasks: newest 100", tasks(store.TaskFilter{})),
		b.taskList("tasks: status=running", tasks(store.TaskFilter{Statuses: []schema.Status{schema.StatusRunning}})),
		b.taskList("tasks: status=failed", tasks(store.TaskFilter{Statuses: []schema.Status{schema.StatusFailed}})),
		b.taskList("tasks: user_id="+benchUser, tasks(store.TaskFilter{UserID: benchUser})),
		b.taskList("tasks: task_type="+benchTaskType, tasks(store.TaskFilter{TaskType: benchTaskType})),
		{
			name: "task: one by id",
			run: func(ctx context.Context) (int, error) {
				_, err := b.st.Task(ctx, b.tenant, b.taskID)
				return 1, err
			},
		},
		{
			name: "task: events timeline",
			run: func(ctx context.Context) (int, error) {
				events, err := b.st.TaskEvents(ctx, b.tenant, b.taskID, store.EventFilter{Limit: 100})
				return len(events), err
			},
		},
		b.logSearch("logs: level>=ERROR", logs(store.LogFilter{MinLevel: schema.LevelError})),
		b.logSearch("logs: text "+benchToken, logs(store.LogFilter{Text: benchToken})),
		b.logSearch("logs: attr site="+benchSite, logs(store.LogFilter{Attributes: []store.Matcher{{Name: "site", Op: store.MatchEqual, Value: benchSite}}})),
		b.logSearch("logs: of one task", logs(store.LogFilter{TaskID: b.taskID})),
		b.metricSeries("series: 1h avg (raw)", series(b.to-hour, 30_000, store.AggAvg)),
		b.metricSeries("series: 1h p95 (raw)", series(b.to-hour, 30_000, store.AggP95)),
		b.metricSeries("series: 24h avg (rollup)", series(b.to-day, 15*60_000, store.AggAvg)),
		b.metricSeries("series: "+span+" avg (rollup)", series(b.from, long, store.AggAvg)),
		b.metricSeries("series: "+span+" p95 (rollup)", series(b.from, long, store.AggP95)),
		b.metricSeries("series: "+span+" avg by host", series(b.from, long, store.AggAvg, "host")),
		b.statsOverview("stats: "+span+" overview", aligned(b.from, long), long),
	}
}

func (b *bench) taskList(name string, f store.TaskFilter) benchQuery {
	return benchQuery{
		name: name,
		run: func(ctx context.Context) (int, error) {
			tasks, err := b.st.Tasks(ctx, f)
			return len(tasks), err
		},
	}
}

func (b *bench) logSearch(name string, f store.LogFilter) benchQuery {
	q := benchQuery{name: name}
	if b.logs != nil {
		q.run = func(ctx context.Context) (int, error) {
			logs, err := b.logs.Logs(ctx, f)
			return len(logs), err
		}
	}
	return q
}

func (b *bench) metricSeries(name string, sq store.SeriesQuery) benchQuery {
	q := benchQuery{name: name}
	if b.series != nil {
		q.run = func(ctx context.Context) (int, error) {
			series, err := b.series.MetricSeries(ctx, sq)
			points := 0
			for _, s := range series {
				points += len(s.Points)
			}
			return points, err
		}
	}
	return q
}

func (b *bench) statsOverview(name string, from, step int64) benchQuery {
	sq := store.StatsQuery{Tenant: b.tenant, From: from, To: b.to, Step: step}
	q := benchQuery{name: name}
	if b.stats != nil {
		q.run = func(ctx context.Context) (int, error) {
			st, err := b.stats.Stats(ctx, sq)
			return len(st.ByStatus) + len(st.Intervals) + len(st.Types) + len(st.ErrorLogs), err
		}
	}
	return q
}

// time captures the statements of one store call, then runs
// the store call and the same SQL directly in turn, warm-up plus runs
// times each, alternating which goes first, or fewer times once over the
// time limit.
func (b *bench) time(ctx context.Context, q *benchQuery, direct func(*benchQuery) error, capture *sqlCapture) error {
	capture.start()
	_, err := q.run(ctx)
	q.captured = capture.stop()
	if err != nil {
		return fmt.Errorf("%s: %w", q.name, err)
	}
	calls := [2]func() error{
		func() (err error) { q.items, err = q.run(ctx); return err },
		func() error { return direct(q) },
	}
	took := [2]*[]time.Duration{&q.store, &q.direct}
	began := time.Now()
	for i := range b.warmup + b.runs {
		if i >= b.warmup+minTimings && time.Since(began) > b.limit {
			break
		}
		for k := range 2 {
			which := (i + k) % 2
			start := time.Now()
			if err := calls[which](); err != nil {
				return fmt.Errorf("%s (%s): %w", q.name, [2]string{"store", "direct"}[which], err)
			}
			if i >= b.warmup {
				*took[which] = append(*took[which], time.Since(start))
			}
		}
	}
	slices.Sort(q.store)
	slices.Sort(q.direct)
	return nil
}

// openDirect opens the database under the store and returns what runs a
// query's SQL on it. The duckdb driver hands a second opening of a file,
// with the same configuration, the database instance already open, so
// the direct SQL reads the same buffers as the store.
func openDirect(ctx context.Context, f *benchFlags) (func(*benchQuery) error, io.Closer, error) {
	if f.backend.store == storeClickHouse {
		c := f.backend.clickhouse
		conn, err := ch.Open(&ch.Options{
			Addr:        c.Addr,
			Auth:        ch.Auth{Database: c.Database, Username: c.Username, Password: c.Password},
			DialTimeout: c.DialTimeout,
			ReadTimeout: c.ReadTimeout,
			Compression: &ch.Compression{Method: ch.CompressionLZ4},
		})
		if err != nil {
			return nil, nil, fmt.Errorf("connect to clickhouse: %w", err)
		}
		return func(q *benchQuery) error {
			return each(q.captured, func(stmt sqlStmt) error { return clickhouseDrain(ctx, conn, stmt.query) })
		}, conn, nil
	}
	db, err := sql.Open("duckdb", f.duckPath())
	if err != nil {
		return nil, nil, fmt.Errorf("open duckdb: %w", err)
	}
	return func(q *benchQuery) error {
		return each(q.captured, func(stmt sqlStmt) error { return duckDrain(ctx, db, stmt) })
	}, db, nil
}

// each calls f with every statement in turn until one fails.
func each[T any](stmts []T, f func(T) error) error {
	for _, stmt := range stmts {
		if err := f(stmt); err != nil {
			return err
		}
	}
	return nil
}

// duckDrain runs one statement and reads every value of every row.
func duckDrain(ctx context.Context, db *sql.DB, s sqlStmt) error {
	rows, err := db.QueryContext(ctx, s.query, s.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// clickhouseDrain runs one statement as the store sent it and reads every
// value of every row into its column's type.
func clickhouseDrain(ctx context.Context, conn ch.Conn, query string) error {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	dest := make([]any, len(types))
	for i, t := range types {
		dest[i] = reflect.New(t.ScanType()).Interface()
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqlCapture keeps the statements the store sends while on.
type sqlCapture struct {
	mu    sync.Mutex
	on    bool
	stmts []sqlStmt
}

// add is the store's query log. ClickHouse statements come with their
// arguments bound, so args is nil for them.
func (c *sqlCapture) add(query string, args []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		c.stmts = append(c.stmts, sqlStmt{query, args})
	}
}

func (c *sqlCapture) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on, c.stmts = true, nil
}

func (c *sqlCapture) stop() []sqlStmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.stmts
}

func printQueries(out io.Writer, queries []benchQuery) {
	fmt.Fprintf(out, "\n%-30s %6s %5s %11s %9s %11s %9s %6s %6s\n", "query", "items", "runs", "store p50", "p99", "direct p50", "p99", "ratio", "p99")
	for _, q := range queries {
		if q.run == nil {
			fmt.Fprintf(out, "%-30s %6s %5s   (this store does not keep what it reads)\n", q.name, "-", "-")
			continue
		}
		sp50, sp99 := percentile(q.store, 0.50), percentile(q.store, 0.99)
		dp50, dp99 := percentile(q.direct, 0.50), percentile(q.direct, 0.99)
		fmt.Fprintf(out, "%-30s %6d %5d %9.2fms %7.2fms %9.2fms %7.2fms %6.2f %6.2f\n", q.name, q.items, len(q.store),
			ms(sp50), ms(sp99), ms(dp50), ms(dp99), ratio(sp50, dp50), ratio(sp99, dp99))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// ruleResults are the figures of one pass over the alert rules.
type ruleResults struct {
	rules, evaluated int
	concurrency      int
	took             time.Duration
	byKind           map[string][]time.Duration
	skipped          string // why no rule was evaluated
}

func (r *ruleResults) print(out io.Writer) {
	if r.skipped != "" {
		fmt.Fprintf(out, "\nalert rules: not evaluated: %s\n", r.skipped)
		return
	}
	fmt.Fprintf(out, "\nalert rules: %d of %d evaluated once each, %d at a time, in %s: %.1f evaluations/s\n",
		r.evaluated, r.rules, r.concurrency, r.took.Round(time.Millisecond), float64(r.evaluated)/r.took.Seconds())
	for _, kind := range slices.Sorted(maps.Keys(r.byKind)) {
		d := r.byKind[kind]
		slices.Sort(d)
		fmt.Fprintf(out, "  %-17s %5d rules, evaluation p50 %.2fms, p99 %.2fms\n", kind, len(d), ms(percentile(d, 0.5)), ms(percentile(d, 0.99)))
	}
}

// alertRule is the store call one rule's evaluation makes.
type alertRule struct {
	kind string
	eval func(ctx context.Context, slot int64) error
}

// evalRules makes n rules over the generated data, three metric_threshold
// rules for every two error_log_rate ones, and evaluates each once for the
// slot that ends at the end of the data, concurrency evaluations at once,
// until the time limit. The alerting package evaluates a rule
// inside its service only, so the reads of an evaluation are made here as
// alerting/queryrules.go makes them (observeMetric, observeLogs): the
// window ending at the slot, one bucket as wide as the window, and for
// logs a limit just past the threshold.
func (b *bench) evalRules(ctx context.Context, n, concurrency int) (*ruleResults, error) {
	if n == 0 {
		return nil, nil
	}
	if b.series == nil || b.logs == nil {
		return &ruleResults{skipped: "this store keeps no metrics or no logs"}, nil
	}
	rules := b.alertRules(n)
	slot := b.to - b.to%60_000 // the default rule interval is a minute
	start := time.Now()
	byKind, evaluated, err := b.evalAll(ctx, rules, concurrency, slot)
	if err != nil {
		return nil, err
	}
	return &ruleResults{rules: n, evaluated: evaluated, concurrency: concurrency, took: time.Since(start), byKind: byKind}, nil
}

func (b *bench) alertRules(n int) []alertRule {
	rng := rand.New(rand.NewPCG(1, 2))
	windows := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	aggs := []store.Aggregation{store.AggAvg, store.AggMax, store.AggP95, store.AggLast}
	rules := make([]alertRule, n)
	for i := range rules {
		window := windows[rng.IntN(len(windows))].Milliseconds()
		if i%5 < 3 {
			d := metricDefs[rng.IntN(len(metricDefs))]
			q := store.SeriesQuery{Tenant: b.tenant, Name: d.name, Agg: aggs[rng.IntN(len(aggs))], Step: window}
			if d.byHost && rng.IntN(2) == 0 {
				q.GroupBy = []string{"host"}
			}
			if d.byType && rng.IntN(2) == 0 {
				q.Matchers = []store.Matcher{{Name: "task_type", Op: store.MatchEqual, Value: taskKinds[rng.IntN(len(taskKinds))].name}}
			}
			rules[i] = alertRule{"metric_threshold", func(ctx context.Context, slot int64) error {
				q := q
				q.From, q.To = slot-window, slot
				_, err := b.series.MetricSeries(ctx, q)
				return err
			}}
			continue
		}
		threshold := []float64{5, 10, 25, 50}[rng.IntN(4)]
		f := store.LogFilter{Tenant: b.tenant, MinLevel: []schema.Level{schema.LevelError, schema.LevelError, schema.LevelWarning, schema.LevelCritical}[rng.IntN(4)],
			Limit: int(math.Ceil(threshold)) + 2}
		if rng.IntN(3) == 0 {
			f.Source = logLines[rng.IntN(len(logLines))].source
		}
		if rng.IntN(3) == 0 {
			f.Attributes = []store.Matcher{{Name: "site", Op: store.MatchEqual, Value: docSites[rng.IntN(len(docSites))]}}
		}
		rules[i] = alertRule{"error_log_rate", func(ctx context.Context, slot int64) error {
			f := f
			f.Since, f.Until = slot-window, slot
			_, err := b.logs.Logs(ctx, f)
			return err
		}}
	}
	return rules
}

// evalAll evaluates the rules once each in turn, concurrency at a time,
// starting no more once over the time limit, and returns how long each
// took by kind and how many it evaluated.
func (b *bench) evalAll(ctx context.Context, rules []alertRule, concurrency int, slot int64) (map[string][]time.Duration, int, error) {
	var (
		mu     sync.Mutex
		byKind = map[string][]time.Duration{}
		errs   []error
		wg     sync.WaitGroup
		next   = make(chan alertRule)
	)
	for range concurrency {
		wg.Go(func() {
			for r := range next {
				start := time.Now()
				err := r.eval(ctx, slot)
				mu.Lock()
				byKind[r.kind] = append(byKind[r.kind], time.Since(start))
				if err != nil {
					errs = append(errs, fmt.Errorf("%s rule: %w", r.kind, err))
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	started := 0
	for _, r := range rules {
		if started >= minTimings && time.Since(start) > b.limit {
			break
		}
		next <- r
		started++
	}
	close(next)
	wg.Wait()
	return byKind, started, errors.Join(errs...)
}
