package store

import (
	"context"

	"github.com/taskpulse/taskpulse/schema"
)

// MatchOp compares a label or attribute with a value, as Prometheus
// matchers do.
type MatchOp string

// The match operators. Regular expressions are RE2, anchored at both ends
// as in Prometheus.
const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// Matcher selects by one label (metrics) or attribute (logs). A missing
// label has the value "".
type Matcher struct {
	Name  string  `json:"name"`
	Op    MatchOp `json:"op"`
	Value string  `json:"value"`
}

// TextMode says how LogFilter.Text matches a message.
type TextMode string

// The text modes. Tokens match whole words, every one of them, ignoring
// case; a substring matches anywhere, ignoring case.
const (
	TextTokens    TextMode = "tokens"
	TextSubstring TextMode = "substring"
)

// LogCursor marks a position in a log listing, which is ordered by
// (Timestamp, EventID) descending.
type LogCursor struct {
	Timestamp int64  `json:"t"`
	EventID   string `json:"e"`
}

// LogFilter selects log records of one tenant. Zero fields do not filter.
type LogFilter struct {
	Tenant     string
	MinLevel   schema.Level // this level and above
	TaskID     string
	UserID     string
	Source     string
	Text       string
	TextMode   TextMode // tokens when empty
	Attributes []Matcher
	Since      int64 // unix ms, inclusive
	Until      int64 // unix ms, exclusive
	After      *LogCursor
	Limit      int // required, > 0
}

// LogStore keeps log records.
//
// Idempotency and isolation are as for TaskStore: a (tenant, event_id) is
// stored once, and every read is scoped to its tenant.
type LogStore interface {
	InsertLogs(ctx context.Context, logs []schema.Log) error
	// Logs lists the records matching f, newest first.
	Logs(ctx context.Context, f LogFilter) ([]schema.Log, error)
	// StreamLogs calls fn with every record matching f, in the order of
	// Logs, as TaskStore.StreamTasks does with tasks: f.After is honoured,
	// f.Limit is not used, and the first error or the end of ctx stops it.
	StreamLogs(ctx context.Context, f LogFilter, fn func(schema.Log) error) error
}

// Aggregation combines the samples of one series in one time bucket.
type Aggregation string

// The aggregations a store computes. Rate is computed above the store
// from Last; quantiles are estimates (see QuantileTolerance).
const (
	AggAvg   Aggregation = "avg"
	AggMin   Aggregation = "min"
	AggMax   Aggregation = "max"
	AggSum   Aggregation = "sum"
	AggCount Aggregation = "count"
	AggLast  Aggregation = "last"
	AggP50   Aggregation = "p50"
	AggP90   Aggregation = "p90"
	AggP95   Aggregation = "p95"
	AggP99   Aggregation = "p99"
)

// QuantileTolerance bounds how far a quantile a store returns may be from
// the exact one, as a fraction of the range of the bucket's values.
const QuantileTolerance = 0.05

// RollupStep is the bucket of the metrics rollup: a SeriesQuery whose Step
// is a multiple of it, and whose From is aligned to it, reads the rollup
// instead of the raw samples.
const RollupStep = 60_000

// SeriesQuery selects a metric's samples in [From, To) and aggregates them
// into buckets of Step milliseconds starting at From.
type SeriesQuery struct {
	Tenant   string
	Name     string
	Matchers []Matcher
	// TaskID, when set, keeps only the samples reported with that task_id.
	// The rollup does not keep task ids, so such a query reads the raw
	// samples over its whole range; a task's samples are few.
	TaskID   string
	From, To int64 // unix ms
	Step     int64 // ms, > 0
	Agg      Aggregation
	// GroupBy names the labels that split the result into series; none
	// means one series over every matching sample.
	GroupBy []string
}

// Point is one bucket of a series: T is the bucket's start.
type Point struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// Series is the aggregated samples of one group. Points holds only the
// buckets that had samples, oldest first.
type Series struct {
	Labels map[string]string `json:"labels"`
	Points []Point           `json:"points"`
}

// MetricStore keeps metric samples and a one-minute rollup of them.
//
// Idempotency and isolation are as for TaskStore. Sums, counts, minimums,
// maximums and last values are exact, from the raw samples and from the
// rollup alike; quantiles are within QuantileTolerance.
type MetricStore interface {
	InsertMetrics(ctx context.Context, samples []schema.Metric) error
	// MetricSeries aggregates samples per q, series ordered by their
	// labels.
	MetricSeries(ctx context.Context, q SeriesQuery) ([]Series, error)
	// TaskMetrics lists the metrics whose samples carry taskID, by name,
	// at most limit (> 0) of them. A task's deletion covers its samples
	// here as in MetricSeries.
	TaskMetrics(ctx context.Context, tenant, taskID string, limit int) ([]TaskMetric, error)
}

// TaskMetric sums up the samples of one metric reported with one task_id.
// Kind and Unit are those of its latest sample, should they differ.
type TaskMetric struct {
	Name    string            `json:"name"`
	Kind    schema.MetricKind `json:"kind"`
	Unit    string            `json:"unit"`
	Samples int64             `json:"samples"`
	First   int64             `json:"first"` // unix ms of the earliest sample
	Last    int64             `json:"last"`  // and of the latest
}

// StatsQuery asks for the task statistics of one tenant in [From, To),
// with per-interval counts in buckets of Step milliseconds.
type StatsQuery struct {
	Tenant   string
	From, To int64
	Step     int64
}

// IntervalCounts counts task transitions in one bucket starting at T:
// tasks whose first event (Started) or terminal event (Completed, Failed)
// fell in it.
type IntervalCounts struct {
	T         int64 `json:"t"`
	Started   int64 `json:"started"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
}

// TypeStats summarises the tasks of one task_type that ended in range.
type TypeStats struct {
	TaskType      string  `json:"task_type"`
	Finished      int64   `json:"finished"` // completed + failed + cancelled
	Failed        int64   `json:"failed"`
	FailureRate   float64 `json:"failure_rate"`
	DurationP50Ms float64 `json:"duration_p50_ms"`
	DurationP90Ms float64 `json:"duration_p90_ms"`
	DurationP99Ms float64 `json:"duration_p99_ms"`
}

// Stats is a tenant's overview. ByStatus counts tasks by current status
// among those updated in range; ErrorLogs counts ERROR and CRITICAL logs
// per bucket.
type Stats struct {
	ByStatus  map[schema.Status]int64 `json:"by_status"`
	Intervals []IntervalCounts        `json:"intervals"` // only buckets with counts
	Types     []TypeStats             `json:"types"`     // most failures first
	ErrorLogs []Point                 `json:"error_logs"`
}

// StatsStore computes task statistics.
type StatsStore interface {
	Stats(ctx context.Context, q StatsQuery) (Stats, error)
}

// Dashboard is a saved set of panels. Definition is the client's JSON (the
// panels, each a query and a chart kind), validated above the store.
type Dashboard struct {
	Tenant     string `json:"-"`
	ID         string `json:"id"`
	Title      string `json:"title"`
	Definition []byte `json:"-"`
	Version    int64  `json:"version"`    // 1 when created, one more with every update
	CreatedAt  int64  `json:"created_at"` // unix ms
	UpdatedAt  int64  `json:"updated_at"`
}

// AnyVersion, as the version a dashboard write expects, matches whatever
// version is stored.
const AnyVersion int64 = 0

// DashboardStore keeps dashboard definitions and their versions.
//
// The store owns the version: it is 1 on create and goes up by one with
// every update. An update or delete names the version the caller last read
// (the ETag a client sends back in If-Match), and the store applies it
// only if that is still the stored version, deciding and writing as one
// step, so that two writers holding the same version cannot both succeed
// even from two processes; the other gets ErrConflict. How close each
// implementation comes to one step is said in its dashboards.go.
type DashboardStore interface {
	// CreateDashboard stores d as a new dashboard at version 1 and returns
	// it as stored; d's CreatedAt and UpdatedAt are kept. It returns
	// ErrConflict when d's id is taken.
	CreateDashboard(ctx context.Context, d Dashboard) (Dashboard, error)
	// Dashboard returns one dashboard, or ErrNotFound.
	Dashboard(ctx context.Context, tenant, id string) (Dashboard, error)
	// Dashboards lists a tenant's dashboards by title.
	Dashboards(ctx context.Context, tenant string) ([]Dashboard, error)
	// UpdateDashboard replaces the title and definition of the dashboard
	// d names if its stored version is ifVersion (or with AnyVersion,
	// whatever it is), and returns it as stored: one version up, its
	// CreatedAt unchanged, its UpdatedAt the later of the stored one and
	// d's. It returns ErrNotFound, or ErrConflict when the stored version
	// is another.
	UpdateDashboard(ctx context.Context, d Dashboard, ifVersion int64) (Dashboard, error)
	// DeleteDashboard removes one dashboard on the same condition, or
	// returns ErrNotFound or ErrConflict.
	DeleteDashboard(ctx context.Context, tenant, id string, ifVersion int64) error
}
