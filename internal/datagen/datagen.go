package datagen

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/backend"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// Config says how much to generate, and where.
type Config struct {
	Dataset Dataset
	Events  int
	Tenants int
	Batch   int
	Seed    uint64
}

// RegisterFlags adds datagen's flags, the data set's included.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Dataset.RegisterFlags(fs)
	fs.IntVar(&c.Events, "events", 10_000_000, "most progress events, log records and metric samples to generate in all (jobs still running at --end are cut short, so a few fewer are stored)")
	fs.IntVar(&c.Tenants, "tenants", 1, `tenants; the first is "default", which a TaskPulse without API keys serves`)
	fs.Uint64Var(&c.Seed, "seed", 1, "random seed")
	fs.IntVar(&c.Batch, "batch", 50_000, "records per insert")
}

// Validate checks the data set and the counts.
func (c *Config) Validate() error {
	if err := c.Dataset.Validate(); err != nil {
		return err
	}
	if c.Events <= 0 || c.Tenants <= 0 || c.Batch <= 0 {
		return errors.New("--events, --tenants and --batch must be positive")
	}
	return nil
}

// Counts are the records a run stored.
type Counts struct {
	Tasks, Progress, Logs, Metrics int64
}

// Total is every record but the tasks, which are made of progress events.
func (c Counts) Total() int64 { return c.Progress + c.Logs + c.Metrics }

// Run writes a realistic data set of Skill Seekers jobs straight into the
// store through its insert methods, as the writer would after ingest:
// each job's progress events from start to its end, the job's logs, and
// the workers' metrics, spread over the data set's days. The same seed
// and end give the same data, event ids included, so running it twice
// stores everything once.
func Run(ctx context.Context, cfg Config, out io.Writer) (Counts, error) {
	d := &cfg.Dataset
	be, err := d.Open(ctx, nil, false)
	if err != nil {
		return Counts{}, err
	}
	defer be.Close()
	fmt.Fprintf(out, "datagen: %d events over %d days to %s into %s, %d tenants, seed %d\n",
		cfg.Events, d.Days, d.End.Format(time.RFC3339), be.StoreName, cfg.Tenants, cfg.Seed)
	var retain retainFunc
	if h := d.Backend.Retention.Shortest(); h > 0 && h < time.Duration(d.Days)*24*time.Hour {
		fmt.Fprintf(out, "datagen: retention %s, enforced at the end of every generated day\n", d.Backend.Retention)
		retain = be.EnforceRetention
	}
	return generate(ctx, be.Store, retain, cfg, d.From(), d.End.UnixMilli(), out)
}

// retainFunc runs a retention pass as of now.
type retainFunc func(ctx context.Context, now time.Time) (backend.RetentionResult, error)

// taskKind is a kind of Skill Seekers job: how often it runs, how long,
// how many progress events it reports and the steps it goes through.
// Runs of a kind differ in length by sigma (the log-normal spread: a big
// site takes longer to scrape), and the share of a run each step takes
// varies around shares by stepSigma. Jobs report progress by steps, an
// equal part each, so a long step moves progress slowly: the shape of a
// kind's runs is what its history tells and its progress rate does not.
type taskKind struct {
	name   string
	weight int
	median time.Duration
	sigma  float64
	events float64 // median progress events of a run
	title  string
	steps  []string
	shares []float64 // of a run's time, per step
}

// stepSigma is the run-to-run spread of a step's share of the run.
const stepSigma = 0.4

var taskKinds = []taskKind{
	{"scrape_docs", 35, 4 * time.Minute, 0.8, 16, "Scrape docs",
		[]string{"resolving site", "reading sitemap", "fetching pages", "extracting content", "deduplicating"},
		[]float64{0.05, 0.10, 0.60, 0.20, 0.05}},
	{"create_skill", 25, 12 * time.Minute, 0.7, 20, "Create skill",
		[]string{"scraping", "categorizing", "building references", "writing SKILL.md", "enhancing"},
		[]float64{0.45, 0.10, 0.20, 0.05, 0.20}},
	{"enhance_skill", 12, 6 * time.Minute, 0.5, 10, "Enhance skill",
		[]string{"loading skill", "prompting model", "merging answers", "writing SKILL.md"},
		[]float64{0.05, 0.70, 0.15, 0.10}},
	{"package_skill", 15, 40 * time.Second, 0.4, 6, "Package skill",
		[]string{"collecting files", "validating", "compressing", "writing zip"},
		[]float64{0.20, 0.10, 0.60, 0.10}},
	{"upload_skill", 8, 20 * time.Second, 0.6, 4, "Upload skill",
		[]string{"authenticating", "uploading", "verifying"},
		[]float64{0.05, 0.85, 0.10}},
	{"validate_skill", 5, 15 * time.Second, 0.3, 4, "Validate skill",
		[]string{"parsing", "checking links", "checking references"},
		[]float64{0.20, 0.60, 0.20}},
}

// docSites are the documentation sites jobs work on, most popular first.
var docSites = []string{"react.dev", "docs.python.org", "go.dev", "developer.mozilla.org", "docs.djangoproject.com",
	"fastapi.tiangolo.com", "vuejs.org", "kubernetes.io", "docs.docker.com", "docs.github.com", "tailwindcss.com",
	"nextjs.org", "docs.rs", "godotengine.org", "docs.unity3d.com", "svelte.dev", "docs.astro.build", "laravel.com",
	"flask.palletsprojects.com", "pytorch.org"}

// taskErrors are why failed jobs failed; %[1]s is the site.
var taskErrors = []string{
	"HTTP 503 from %[1]s after 3 retries",
	"timeout after 300s waiting for %[1]s",
	"LLM rate limit exceeded for %[1]s",
	"skill package for %[1]s exceeds 50 MB",
	"invalid SKILL.md frontmatter (%[1]s)",
	"no pages found on %[1]s",
}

// logLine is a log record a job writes: %[1]s is the site, %[2]d and %[3]d
// are numbers.
type logLine struct {
	level  schema.Level
	source string
	format string
}

var logLines = []logLine{
	{schema.LevelDebug, "scraper", "robots.txt for %[1]s allows %[2]d paths"},
	{schema.LevelDebug, "enhancer", "prompt for %[1]s has %[2]d tokens in %[3]d chunks"},
	{schema.LevelInfo, "scraper", "fetched %[2]d pages from %[1]s in %[3]d ms"},
	{schema.LevelInfo, "scraper", "GET https://%[1]s/docs/page-%[2]d 200 in %[3]d ms"},
	{schema.LevelInfo, "builder", "categorized %[2]d pages of %[1]s into %[3]d categories"},
	{schema.LevelInfo, "builder", "wrote references/page-%[2]d.md for %[1]s (%[3]d bytes)"},
	{schema.LevelInfo, "enhancer", "llm request for %[1]s done tokens=%[2]d latency_ms=%[3]d"},
	{schema.LevelInfo, "packager", "added %[2]d files of %[1]s to the skill package (%[3]d KB)"},
	{schema.LevelWarning, "scraper", "rate limited by %[1]s, retrying in %[2]d s"},
	{schema.LevelWarning, "scraper", "slow response from %[1]s: %[3]d ms for page-%[2]d"},
	{schema.LevelWarning, "enhancer", "llm response for %[1]s truncated at %[2]d tokens, retrying"},
	{schema.LevelError, "scraper", "timeout fetching https://%[1]s/docs/page-%[2]d after %[3]d ms"},
	{schema.LevelError, "scraper", "GET https://%[1]s/docs/page-%[2]d failed: HTTP 503"},
	{schema.LevelError, "enhancer", "llm request for %[1]s failed: rate limit exceeded (attempt %[2]d)"},
	{schema.LevelCritical, "worker", "worker out of memory after %[3]d ms on %[1]s, restarting"},
}

// levelPerMille is how often each level is logged, in records per
// thousand: mostly INFO, some DEBUG and WARNING, few ERROR and CRITICAL.
var levelPerMille = []struct {
	level schema.Level
	upTo  int
}{{schema.LevelDebug, 80}, {schema.LevelInfo, 880}, {schema.LevelWarning, 960}, {schema.LevelError, 995}, {schema.LevelCritical, 1000}}

// metricDef is a metric the workers report, one series per host and/or
// task type. A gauge is base + swing*daily + noise; a counter grows by
// that much every sample.
type metricDef struct {
	name                    string
	kind                    schema.MetricKind
	unit                    string
	byHost, byType          bool
	base, swing, noise, top float64 // top > 0 caps a gauge
	round                   bool
}

var metricDefs = []metricDef{
	{"worker_cpu_percent", schema.KindGauge, "percent", true, false, 10, 50, 8, 100, false},
	{"worker_memory_bytes", schema.KindGauge, "bytes", true, false, 1.5e9, 1.5e9, 2e8, 0, true},
	{"queue_depth", schema.KindGauge, "", false, true, 0, 12, 3, 0, true},
	{"tasks_running", schema.KindGauge, "", true, true, 0, 4, 1, 0, true},
	{"http_requests_total", schema.KindCounter, "", true, false, 60, 120, 20, 0, true},
	{"pages_scraped_total", schema.KindCounter, "", true, false, 10, 60, 10, 0, true},
}

const (
	genUsers = 500
	genHosts = 4
	// Shares of the event budget: the rest is metric samples. Jobs write
	// about 1.7 log records per progress event.
	genTaskShare = 0.75
	// How jobs end, per thousand: the rest complete. An abandoned job's
	// client died: it stays running.
	genFailed    = 100
	genCancelled = 130
	genAbandoned = 135
)

// taskShape is a job drawn before any is generated, so that the number of
// jobs, and with it their spacing in time, is known up front.
type taskShape struct {
	kind     *taskKind
	events   int
	logs     int
	duration int64 // ms
	outcome  schema.Status
}

// generator makes the data set in time order: jobs by start time, with the
// metric samples due before each job's start.
type generator struct {
	rng      *rand.Rand
	cfg      Config
	from     int64
	end      int64
	order    int64 // ingest order, over every record
	users    *rand.Zipf
	sites    *rand.Zipf
	kindsSum int

	series   []metricSeries
	interval int64 // ms between a series' samples
	nextTick int64
}

type metricSeries struct {
	def    *metricDef
	tenant string
	labels map[string]string
	total  float64 // of a counter
}

// generate writes the data set into st. When retain is not nil, it runs
// after each generated day as of the day's end, as a server's passes would
// have, so that the store ends as a server running the whole span with
// that retention would hold it.
func generate(ctx context.Context, st store.Store, retain retainFunc, cfg Config, from, end int64, out io.Writer) (Counts, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a5c_9e11))
	g := &generator{
		rng: rng, cfg: cfg, from: from, end: end, nextTick: from,
		users: rand.NewZipf(rng, 1.2, 4, genUsers-1),
		sites: rand.NewZipf(rng, 1.3, 2, uint64(len(docSites)-1)),
	}
	for _, k := range taskKinds {
		g.kindsSum += k.weight
	}
	shapes := g.shapes(int(float64(cfg.Events) * genTaskShare))
	g.planMetrics(cfg.Events - int(float64(cfg.Events)*genTaskShare))

	s := newSink(ctx, st, cfg.Batch, out)
	start := time.Now()
	slot := float64(end-from) / float64(len(shapes))
	nextPass := from + dayMillis
	for i := range shapes {
		if s.ctx.Err() != nil {
			break
		}
		at := from + int64((float64(i)+g.rng.Float64())*slot)
		if retain != nil && at >= nextPass {
			g.metricsUntil(s, nextPass)
			s.retain(retain, nextPass)
			nextPass += dayMillis
		}
		g.metricsUntil(s, at)
		g.task(s, i, at, &shapes[i])
	}
	g.metricsUntil(s, end)
	if retain != nil {
		s.retain(retain, end)
	}
	stored, err := s.close()
	if err != nil {
		return stored, err
	}
	// A store with task snapshots has a writer refresh them now and then;
	// a data set is read as soon as it is made, so it is refreshed here.
	if r, ok := st.(interface {
		RefreshTaskSnapshots(ctx context.Context, tenant string) error
	}); ok {
		for t := range cfg.Tenants {
			if err := r.RefreshTaskSnapshots(ctx, tenantName(t)); err != nil {
				return stored, fmt.Errorf("refresh task snapshots: %w", err)
			}
		}
	}
	elapsed := time.Since(start)
	fmt.Fprintf(out, "datagen: stored %d records in %s: %.0f rows/s (%d jobs: %d progress events, %d logs, %d metric samples of %d series every %s)\n",
		stored.Total(), elapsed.Round(time.Millisecond), float64(stored.Total())/elapsed.Seconds(),
		stored.Tasks, stored.Progress, stored.Logs, stored.Metrics, len(g.series), time.Duration(g.interval)*time.Millisecond)
	fmt.Fprintf(out, "datagen: inserting took %s for progress, %s for logs, %s for metrics\n", s.progress.timing(), s.logs.timing(), s.metrics.timing())
	return stored, nil
}

// shapes draws jobs until the next would not fit in budget progress
// events and logs.
func (g *generator) shapes(budget int) []taskShape {
	var shapes []taskShape
	for n := 0; ; {
		k := g.kind()
		events := g.logNormal(k.events, 0.5, 3, 300)
		sh := taskShape{
			kind:     k,
			events:   events,
			logs:     g.logNormal(1.5*k.events, 0.7, 1, 500),
			duration: int64(g.logNormal(float64(k.median.Milliseconds()), k.sigma, 1000, 6*3600_000)),
			outcome:  schema.StatusCompleted,
		}
		switch r := g.rng.IntN(1000); {
		case r < genFailed:
			sh.outcome = schema.StatusFailed
		case r < genCancelled:
			sh.outcome = schema.StatusCancelled
		case r < genAbandoned:
			sh.outcome = schema.StatusRunning
		}
		if n += sh.events + sh.logs; n > budget {
			return shapes
		}
		shapes = append(shapes, sh)
	}
}

func (g *generator) kind() *taskKind {
	r := g.rng.IntN(g.kindsSum)
	for i := range taskKinds {
		if r -= taskKinds[i].weight; r < 0 {
			return &taskKinds[i]
		}
	}
	panic("BUG: task kind weights do not add up")
}

// logNormal draws a log-normal integer of the given median and sigma,
// clamped to [lo, hi].
func (g *generator) logNormal(median, sigma float64, lo, hi int) int {
	v := median * math.Exp(sigma*g.rng.NormFloat64())
	return min(max(int(v), lo), hi)
}

// planMetrics makes every tenant's series and spaces their samples so that
// they fill budget over the span.
func (g *generator) planMetrics(budget int) {
	for t := range g.cfg.Tenants {
		for i := range metricDefs {
			d := &metricDefs[i]
			hosts, types := 1, 1
			if d.byHost {
				hosts = genHosts
			}
			if d.byType {
				types = len(taskKinds)
			}
			for h := range hosts {
				for k := range types {
					labels := map[string]string{}
					if d.byHost {
						labels["host"] = hostName(h)
					}
					if d.byType {
						labels["task_type"] = taskKinds[k].name
					}
					g.series = append(g.series, metricSeries{def: d, tenant: tenantName(t), labels: labels})
				}
			}
		}
	}
	// Each series gets ticks samples, one every interval.
	ticks := int64(budget / len(g.series))
	if ticks == 0 {
		g.nextTick = g.end
		ticks = 1
	}
	g.interval = max((g.end-g.from+ticks-1)/ticks, 1000)
}

func tenantName(i int) string {
	if i == 0 {
		return auth.DefaultTenant
	}
	return "tenant-" + strconv.Itoa(i+1)
}

func hostName(i int) string { return "worker-" + strconv.Itoa(i+1) }

// metricsUntil writes the samples of every tick before t.
func (g *generator) metricsUntil(s *sink, t int64) {
	for ; g.nextTick < t && g.nextTick < g.end; g.nextTick += g.interval {
		daily := 0.5 + 0.5*math.Sin(2*math.Pi*float64(g.nextTick%86_400_000-9*3600_000)/86_400_000)
		for i := range g.series {
			sr := &g.series[i]
			d := sr.def
			v := d.base + d.swing*daily + d.noise*g.rng.NormFloat64()
			if d.kind == schema.KindCounter {
				sr.total += max(v, 0)
				v = sr.total
			}
			if d.round {
				v = math.Round(v)
			}
			if v = max(v, 0); d.top > 0 {
				v = min(v, d.top)
			}
			ts := min(g.nextTick+g.rng.Int64N(min(g.interval/10, 2000)+1), g.end-1)
			s.metrics.add(s, schema.Metric{
				Tenant: sr.tenant, EventID: g.eventID(ts), Timestamp: ts, IngestOrder: g.nextOrder(),
				Name: d.name, Kind: d.kind, Value: v, Unit: d.unit, Labels: sr.labels,
			})
		}
	}
}

// job is what a job's records share.
type job struct {
	*taskShape
	tenant, id, user, site, host, trace string
	start                               int64
	// bounds[s] is the share of the run done when step s starts; the
	// last is 1.
	bounds []float64
}

// task writes one job's progress events and logs; those that would fall
// after the end of the span are not written, which leaves the job running.
func (g *generator) task(s *sink, i int, start int64, sh *taskShape) {
	j := job{
		taskShape: sh,
		tenant:    tenantName(i % g.cfg.Tenants),
		id:        fmt.Sprintf("job-%016x", g.rng.Uint64()),
		user:      "user-" + strconv.FormatUint(g.users.Uint64()+1, 10),
		site:      docSites[g.sites.Uint64()],
		host:      hostName(g.rng.IntN(genHosts)),
		trace:     fmt.Sprintf("%016x%016x", g.rng.Uint64(), g.rng.Uint64()),
		start:     start,
		bounds:    g.stepBounds(sh.kind),
	}
	stored := g.progress(s, &j)
	g.logs(s, &j)
	if stored > 0 {
		s.tasks.Add(1)
	}
}

// progress writes the job's events: pending (sometimes), running with
// rising progress and now and then a pause, then how it ended. Failed and
// cancelled jobs stop part way.
func (g *generator) progress(s *sink, j *job) int {
	n := j.events
	reach := 1.0
	if j.outcome != schema.StatusCompleted {
		reach = 0.1 + 0.85*g.rng.Float64()
	}
	pending := n >= 4 && g.rng.IntN(10) < 3
	paused := -1
	if n >= 6 && g.rng.IntN(100) < 4 {
		paused = 2 + g.rng.IntN(n-4)
	}
	sendsETA := g.rng.IntN(2) == 0
	attrs := map[string]string{"site": j.site, "worker": j.host}
	name := j.kind.title + ": " + j.site
	at := g.spread(n, j.start, j.duration, j.bounds)
	stored := 0
	for k := range n {
		if at[k] >= g.end {
			break
		}
		e := schema.Progress{
			Tenant: j.tenant, EventID: g.eventID(at[k]), Timestamp: at[k], Seq: int64(k + 1), IngestOrder: g.nextOrder(),
			TaskID: j.id, UserID: j.user, TaskType: j.kind.name, TaskName: name, Status: schema.StatusRunning,
			StepsDone: int64(k), StepsTotal: int64(n - 1), Attributes: attrs,
		}
		e.CurrentStep = j.kind.steps[k*len(j.kind.steps)/n]
		switch {
		case k == 0 && pending:
			e.Status, e.Message = schema.StatusPending, "queued"
		case k == paused:
			e.Status, e.Message = schema.StatusPaused, "paused by user"
		case k == n-1 && j.outcome == schema.StatusCompleted:
			e.Status, e.Progress, e.Message = schema.StatusCompleted, ptr(100.0), "done"
		case k == n-1 && j.outcome == schema.StatusFailed:
			e.Status, e.Error = schema.StatusFailed, fmt.Sprintf(taskErrors[g.rng.IntN(len(taskErrors))], j.site)
		case k == n-1 && j.outcome == schema.StatusCancelled:
			e.Status, e.Message = schema.StatusCancelled, "cancelled by user"
		default:
			e.Progress = ptr(math.Round(1000*reach*float64(k)/float64(n-1)) / 10)
			e.Message = fmt.Sprintf("%s (%d of %d)", e.CurrentStep, k, n-1)
			if sendsETA && k > 0 {
				e.ETA = ptr((at[n-1] - at[k]) / 1000)
			}
		}
		s.progress.add(s, e)
		stored++
	}
	return stored
}

// logs writes the job's log records at random times of its run; a failed
// job's last record is its error.
func (g *generator) logs(s *sink, j *job) {
	for k := range j.logs {
		ts := j.start + g.rng.Int64N(j.duration+1)
		var line logLine
		if k == j.logs-1 && j.outcome == schema.StatusFailed {
			ts = j.start + j.duration
			line = logLine{schema.LevelError, "worker", "job failed: " + taskErrors[g.rng.IntN(len(taskErrors))]}
		} else {
			line = g.logLine()
		}
		if ts >= g.end {
			continue
		}
		attrs := map[string]string{
			"site": j.site, "worker": j.host,
			"step": j.kind.steps[j.stepAt(float64(ts-j.start)/float64(j.duration+1))],
		}
		if line.level.Rank() >= schema.LevelWarning.Rank() {
			attrs["attempt"] = strconv.Itoa(1 + g.rng.IntN(3))
		}
		s.logs.add(s, schema.Log{
			Tenant: j.tenant, EventID: g.eventID(ts), Timestamp: ts, IngestOrder: g.nextOrder(),
			TaskID: j.id, UserID: j.user, Level: line.level, Source: line.source,
			Message: fmt.Sprintf(line.format, j.site, 1+g.rng.IntN(500), 10+g.rng.IntN(3000)),
			TraceID: j.trace, SpanID: fmt.Sprintf("%016x", g.rng.Uint64()), Attributes: attrs,
		})
	}
}

func (g *generator) logLine() logLine {
	r := g.rng.IntN(1000)
	level := schema.LevelCritical
	for _, l := range levelPerMille {
		if r < l.upTo {
			level = l.level
			break
		}
	}
	var of []logLine
	for _, l := range logLines {
		if l.level == level {
			of = append(of, l)
		}
	}
	return of[g.rng.IntN(len(of))]
}

// spread returns n times from start to start+duration, the first at start
// and the last at the end, with random gaps between. The events are
// spaced evenly in steps, so each step's events share the step's part of
// the run, given by bounds.
func (g *generator) spread(n int, start, duration int64, bounds []float64) []int64 {
	cum := make([]float64, n)
	for k := 1; k < n; k++ {
		cum[k] = cum[k-1] + g.rng.ExpFloat64()
	}
	steps := float64(len(bounds) - 1)
	at := make([]int64, n)
	for k := range n {
		x := cum[k] / cum[n-1] * steps
		s := min(int(x), len(bounds)-2)
		done := bounds[s] + (x-float64(s))*(bounds[s+1]-bounds[s])
		at[k] = start + int64(done*float64(duration))
	}
	return at
}

// stepBounds draws the share of a run of kind k each step takes and
// returns where each step starts, as a share of the run.
func (g *generator) stepBounds(k *taskKind) []float64 {
	bounds := make([]float64, len(k.shares)+1)
	for s, share := range k.shares {
		bounds[s+1] = bounds[s] + share*math.Exp(stepSigma*g.rng.NormFloat64())
	}
	for s := range bounds {
		bounds[s] /= bounds[len(bounds)-1]
	}
	return bounds
}

// stepAt is the step the job is in once done, a share of its run, has
// passed.
func (j *job) stepAt(done float64) int {
	s := 0
	for s < len(j.bounds)-2 && done >= j.bounds[s+1] {
		s++
	}
	return s
}

func (g *generator) nextOrder() int64 {
	g.order++
	return g.order
}

// eventID makes a UUIDv7 of ts from the generator's random numbers, so
// that ids are as ingest stamps them and the same for the same seed.
func (g *generator) eventID(ts int64) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:], uint64(ts)<<16|g.rng.Uint64()&0x0fff|0x7000)
	binary.BigEndian.PutUint64(u[8:], g.rng.Uint64()&^(3<<62)|1<<63)
	return u.String()
}

func ptr[T any](v T) *T { return &v }

// sink batches records per signal and hands each full batch to one
// inserting goroutine, so that generating the next batch overlaps storing
// the last. A failed insert cancels its context, which stops the
// generator.
type sink struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	size     int
	jobs     chan func(context.Context) error
	done     chan struct{}
	out      io.Writer
	started  time.Time
	tasks    atomic.Int64
	progress batcher[schema.Progress]
	logs     batcher[schema.Log]
	metrics  batcher[schema.Metric]
}

// batcher is one signal's pending batch.
type batcher[T any] struct {
	buf    []T
	insert func(context.Context, []T) error
	stored atomic.Int64
	took   time.Duration // in insert, written by the inserting goroutine only
}

func newSink(ctx context.Context, st store.Store, size int, out io.Writer) *sink {
	s := &sink{size: size, jobs: make(chan func(context.Context) error, 4), done: make(chan struct{}), out: out, started: time.Now()}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.progress.insert = st.InsertProgress
	s.logs.insert = st.InsertLogs
	s.metrics.insert = st.InsertMetrics
	go s.run()
	return s
}

// run inserts batches in turn, printing the rate now and then. After a
// failure it only drains the queue.
func (s *sink) run() {
	defer close(s.done)
	last := time.Now()
	for job := range s.jobs {
		if s.ctx.Err() != nil {
			continue
		}
		if err := job(s.ctx); err != nil {
			s.cancel(err)
			continue
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			c := s.counts()
			fmt.Fprintf(s.out, "datagen: %d stored (%d progress, %d logs, %d metrics), %.0f rows/s\n",
				c.Total(), c.Progress, c.Logs, c.Metrics, float64(c.Total())/time.Since(s.started).Seconds())
		}
	}
}

func (s *sink) counts() Counts {
	return Counts{Tasks: s.tasks.Load(), Progress: s.progress.stored.Load(), Logs: s.logs.stored.Load(), Metrics: s.metrics.stored.Load()}
}

const dayMillis = 24 * 3600_000

// retain runs a retention pass as of now after the batches flushed so
// far. The records still pending are all newer than anything it removes.
func (s *sink) retain(retain retainFunc, now int64) {
	s.jobs <- func(ctx context.Context) error {
		at := time.UnixMilli(now).UTC()
		res, err := retain(ctx, at)
		if err != nil {
			return err
		}
		if !res.Empty() {
			fmt.Fprintf(s.out, "datagen: retention as of %s: %s\n", at.Format(time.DateTime), res)
		}
		return nil
	}
}

// close stores what is pending and waits for every insert.
func (s *sink) close() (Counts, error) {
	s.progress.flush(s)
	s.logs.flush(s)
	s.metrics.flush(s)
	close(s.jobs)
	<-s.done
	defer s.cancel(nil)
	if err := context.Cause(s.ctx); err != nil {
		return s.counts(), fmt.Errorf("datagen: %w", err)
	}
	return s.counts(), nil
}

// timing says how long inserting took, and at what rate.
func (b *batcher[T]) timing() string {
	if b.took == 0 {
		return "nothing"
	}
	return fmt.Sprintf("%s (%.0f rows/s)", b.took.Round(time.Millisecond), float64(b.stored.Load())/b.took.Seconds())
}

func (b *batcher[T]) add(s *sink, v T) {
	b.buf = append(b.buf, v)
	if len(b.buf) >= s.size {
		b.flush(s)
	}
}

func (b *batcher[T]) flush(s *sink) {
	if len(b.buf) == 0 {
		return
	}
	batch := b.buf
	b.buf = make([]T, 0, s.size)
	s.jobs <- func(ctx context.Context) error {
		start := time.Now()
		if err := b.insert(ctx, batch); err != nil {
			return err
		}
		b.took += time.Since(start)
		b.stored.Add(int64(len(batch)))
		return nil
	}
}
