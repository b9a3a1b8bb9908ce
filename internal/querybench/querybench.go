package querybench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/datagen"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Config says what to query and how often.
type Config struct {
	Dataset     datagen.Dataset
	Tenant      string
	Runs        int
	Warmup      int
	TimeLimit   time.Duration
	Rules       int
	Concurrency int

	// endSet is whether --end was given; else the data ends at the newest
	// task update in the store.
	endSet bool
}

// RegisterFlags adds querybench's flags, the data set's included.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Dataset.RegisterFlags(fs)
	end := fs.Lookup("end")
	end.Usage = "end of the data, unix ms or RFC 3339 (default the newest task update in the store)"
	end.Value = setValue{end.Value, &c.endSet}
	fs.StringVar(&c.Tenant, "tenant", auth.DefaultTenant, "tenant to query")
	fs.IntVar(&c.Runs, "runs", 50, "timed runs of each query")
	fs.IntVar(&c.Warmup, "warmup", 2, "untimed runs of each query before")
	fs.DurationVar(&c.TimeLimit, "time-limit", time.Minute, "how long the runs of one query, or the rule evaluations, may go on once they have 5 timings")
	fs.IntVar(&c.Rules, "alert-rules", 1000, "metric_threshold and error_log_rate rules to evaluate (0 skips)")
	fs.IntVar(&c.Concurrency, "alert-concurrency", 8, "rule evaluations at once")
}

// setValue notes that its flag was set.
type setValue struct {
	flag.Value
	set *bool
}

// String answers for a zero setValue too, as the flag package asks one
// when printing defaults.
func (v setValue) String() string {
	if v.Value == nil {
		return ""
	}
	return v.Value.String()
}

func (v setValue) Set(s string) error {
	*v.set = true
	return v.Value.Set(s)
}

// Validate checks the data set and the counts.
func (c *Config) Validate() error {
	if err := c.Dataset.Validate(); err != nil {
		return err
	}
	if c.Runs <= 0 || c.Warmup < 0 || c.Rules < 0 || c.Concurrency <= 0 {
		return errors.New("--runs and --alert-concurrency must be positive, --warmup and --alert-rules not negative")
	}
	return nil
}

// Run times the queries the query API and alerting send to a store most,
// on a data set such as datagen makes, and beside each the same SQL run
// directly on the store: what the store adds over its database is the
// ratio of the two. It then evaluates many metric and log alert rules
// once each, as the alerting service does at the end of a rule interval,
// and prints evaluations per second.
//
// The direct SQL is exactly what the store sent, captured through the
// store's query log with its arguments, and run again on the same
// database (see backend.Direct). Store and direct runs alternate, so that
// both see the same load on a shared machine.
func Run(ctx context.Context, cfg Config, out io.Writer) error {
	capture := &sqlCapture{}
	be, err := cfg.Dataset.Open(ctx, capture.add, true)
	if err != nil {
		return err
	}
	b, err := newBench(ctx, be, &cfg)
	if err != nil {
		be.Close()
		return err
	}
	b.runs, b.warmup, b.limit = cfg.Runs, cfg.Warmup, cfg.TimeLimit
	fmt.Fprintf(out, "querybench: %s, tenant %q, %s to %s, %d runs each after %d warm-up\n", be.StoreName, b.tenant,
		time.UnixMilli(b.from).UTC().Format(time.RFC3339), time.UnixMilli(b.to).UTC().Format(time.RFC3339), b.runs, b.warmup)
	queries := b.queries()
	rules, err := b.timeAll(ctx, be.Direct, queries, capture, cfg.Rules, cfg.Concurrency)
	if cerr := be.Close(); err == nil {
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

// QueryNames are the names of the queries Run times, in order, for data
// spanning days.
func QueryNames(days int) []string {
	var names []string
	for _, q := range (&bench{days: days, to: 30 * 86_400_000}).queries() {
		names = append(names, q.name)
	}
	return names
}

// bench is one run's store and what is queried.
type bench struct {
	st       store.Store
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

func newBench(ctx context.Context, be *backend.Backends, cfg *Config) (*bench, error) {
	st, d := be.Store, &cfg.Dataset
	b := &bench{st: st, tenant: cfg.Tenant, days: d.Days}
	newest, err := st.Tasks(ctx, store.TaskFilter{Tenant: cfg.Tenant, Limit: 100})
	if err != nil {
		return nil, err
	}
	if len(newest) == 0 {
		return nil, fmt.Errorf("tenant %q has no tasks in %s: run datagen first", cfg.Tenant, be.StoreName)
	}
	if !cfg.endSet {
		d.End = time.UnixMilli(newest[0].UpdatedAt + 1)
	}
	b.from, b.to = d.From(), d.End.UnixMilli()
	top := slices.MaxFunc(newest, func(a, c store.Task) int { return int(a.Events - c.Events) })
	b.taskID = top.TaskID
	return b, nil
}

// timeAll times every query, then evaluates the alert rules.
func (b *bench) timeAll(ctx context.Context, direct backend.Direct, queries []benchQuery, capture *sqlCapture, nRules, concurrency int) (*ruleResults, error) {
	run := func(q *benchQuery) error {
		for _, stmt := range q.captured {
			if err := direct.Drain(ctx, stmt.query, stmt.args); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range queries {
		if err := b.time(ctx, &queries[i], run, capture); err != nil {
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
	// run calls the store and says how many items it returned.
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
	return benchQuery{
		name: name,
		run: func(ctx context.Context) (int, error) {
			logs, err := b.st.Logs(ctx, f)
			return len(logs), err
		},
	}
}

func (b *bench) metricSeries(name string, sq store.SeriesQuery) benchQuery {
	return benchQuery{
		name: name,
		run: func(ctx context.Context) (int, error) {
			series, err := b.st.MetricSeries(ctx, sq)
			points := 0
			for _, s := range series {
				points += len(s.Points)
			}
			return points, err
		},
	}
}

func (b *bench) statsOverview(name string, from, step int64) benchQuery {
	sq := store.StatsQuery{Tenant: b.tenant, From: from, To: b.to, Step: step}
	return benchQuery{
		name: name,
		run: func(ctx context.Context) (int, error) {
			st, err := b.st.Stats(ctx, sq)
			return len(st.ByStatus) + len(st.Intervals) + len(st.Types) + len(st.ErrorLogs), err
		},
	}
}

// time captures the statements of one store call, then runs
// the store call and the same SQL directly in turn, warm-up plus runs
// times each, alternating which goes first, or fewer times once over the
// time limit. The call captured is the second: the first may do work a
// store does once, such as writing back what it computed, which is not
// the query's.
func (b *bench) time(ctx context.Context, q *benchQuery, direct func(*benchQuery) error, capture *sqlCapture) error {
	if _, err := q.run(ctx); err != nil {
		return fmt.Errorf("%s: %w", q.name, err)
	}
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
}

func (r *ruleResults) print(out io.Writer) {
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
	metrics, taskTypes, sources, sites := datagen.Metrics(), datagen.TaskTypes(), datagen.LogSources(), datagen.Sites()
	rng := rand.New(rand.NewPCG(1, 2))
	windows := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}
	aggs := []store.Aggregation{store.AggAvg, store.AggMax, store.AggP95, store.AggLast}
	rules := make([]alertRule, n)
	for i := range rules {
		window := windows[rng.IntN(len(windows))].Milliseconds()
		if i%5 < 3 {
			d := metrics[rng.IntN(len(metrics))]
			q := store.SeriesQuery{Tenant: b.tenant, Name: d.Name, Agg: aggs[rng.IntN(len(aggs))], Step: window}
			if d.ByHost && rng.IntN(2) == 0 {
				q.GroupBy = []string{"host"}
			}
			if d.ByType && rng.IntN(2) == 0 {
				q.Matchers = []store.Matcher{{Name: "task_type", Op: store.MatchEqual, Value: taskTypes[rng.IntN(len(taskTypes))]}}
			}
			rules[i] = alertRule{"metric_threshold", func(ctx context.Context, slot int64) error {
				q := q
				q.From, q.To = slot-window, slot
				_, err := b.st.MetricSeries(ctx, q)
				return err
			}}
			continue
		}
		threshold := []float64{5, 10, 25, 50}[rng.IntN(4)]
		f := store.LogFilter{Tenant: b.tenant, MinLevel: []schema.Level{schema.LevelError, schema.LevelError, schema.LevelWarning, schema.LevelCritical}[rng.IntN(4)],
			Limit: int(math.Ceil(threshold)) + 2}
		if rng.IntN(3) == 0 {
			f.Source = sources[rng.IntN(len(sources))]
		}
		if rng.IntN(3) == 0 {
			f.Attributes = []store.Matcher{{Name: "site", Op: store.MatchEqual, Value: sites[rng.IntN(len(sites))]}}
		}
		rules[i] = alertRule{"error_log_rate", func(ctx context.Context, slot int64) error {
			f := f
			f.Since, f.Until = slot-window, slot
			_, err := b.st.Logs(ctx, f)
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

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Round(10 * time.Microsecond)
}
