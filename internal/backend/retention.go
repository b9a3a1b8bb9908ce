package backend

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
)

// Retention is how long the store keeps each signal, counted back from
// now on the signal's own timestamp. Zero keeps it forever.
type Retention struct {
	Progress, Logs, Metrics, Rollups time.Duration
}

const day = 24 * time.Hour

// DefaultRetention keeps task history for a quarter, so that failure rates
// and durations compare across one; logs and raw metric samples, the bulk
// of the data, for a month, past which incidents are rarely read; and the
// one-minute metric rollup, small beside the samples, for 400 days, so
// that a dashboard can set a day against the same day a year before.
func DefaultRetention() Retention {
	return Retention{Progress: 90 * day, Logs: 30 * day, Metrics: 30 * day, Rollups: 400 * day}
}

// RegisterFlags adds the --retention-* flags, set to DefaultRetention.
func (r *Retention) RegisterFlags(fs *flag.FlagSet) {
	*r = DefaultRetention()
	const keep = ` (a Go duration such as 36h, or days and weeks such as 30d or 2w; 0 keeps them forever)`
	fs.Var((*horizon)(&r.Progress), "retention-progress", "how long to keep progress events, and tasks whose events are all older"+keep)
	fs.Var((*horizon)(&r.Logs), "retention-logs", "how long to keep log records"+keep)
	fs.Var((*horizon)(&r.Metrics), "retention-metrics", "how long to keep raw metric samples; charts of whole minutes read the rollup beyond"+keep)
	fs.Var((*horizon)(&r.Rollups), "retention-rollups", "how long to keep the one-minute metric rollup; at least --retention-metrics"+keep)
}

// Validate refuses a rollup kept for less time than the samples it is
// made of: a chart of whole minutes reads the rollup, and would show
// nothing where the samples are still kept.
func (r Retention) Validate() error {
	if r.Rollups != 0 && (r.Metrics == 0 || r.Rollups < r.Metrics) {
		return fmt.Errorf("--retention-rollups %s is shorter than --retention-metrics %s", formatHorizon(r.Rollups), formatHorizon(r.Metrics))
	}
	return nil
}

// minHorizon guards against a unit slip: "7m" is seven minutes, not
// months, and would delete nearly everything.
const minHorizon = time.Hour

// horizon is a retention flag's value.
type horizon time.Duration

// Set takes a Go duration, or Prometheus's, which adds days, weeks and
// years of 365 days ("30d", "2w", "1y"), as --storage.tsdb.retention.time
// does.
func (h *horizon) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		var md model.Duration
		md, err = model.ParseDuration(s)
		d = time.Duration(md)
	}
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 30d, 2w or 36h, or 0 to keep forever")
	}
	if d != 0 && d < minHorizon {
		return fmt.Errorf("%s is less than an hour (0 keeps forever; months are not a unit, write days such as 180d)", s)
	}
	*h = horizon(d)
	return nil
}

func (h *horizon) String() string { return formatHorizon(time.Duration(*h)) }

// formatHorizon writes whole days as days.
func formatHorizon(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

func (r Retention) String() string {
	return fmt.Sprintf("progress %s, logs %s, metrics %s, rollups %s",
		formatHorizon(r.Progress), formatHorizon(r.Logs), formatHorizon(r.Metrics), formatHorizon(r.Rollups))
}

// Shortest is the shortest horizon, 0 if every signal is kept forever.
func (r Retention) Shortest() time.Duration {
	var shortest time.Duration
	for _, d := range []time.Duration{r.Progress, r.Logs, r.Metrics, r.Rollups} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	return shortest
}

// retentionEvery is how often the retention loop runs a pass. DuckDB
// compacts a table once a tenth of it has expired, and ClickHouse servers
// without TTL delete at most once a day, so an hourly pass mostly finds
// nothing to do, cheaply.
const retentionEvery = time.Hour

// RetentionResult says what a retention pass did.
type RetentionResult interface {
	fmt.Stringer
	// Empty says the pass changed nothing.
	Empty() bool
}

// EnforceRetention runs one retention pass on the store as of now,
// removing what is past the horizons of the flags' Retention.
func (b *Backends) EnforceRetention(ctx context.Context, now time.Time) (RetentionResult, error) {
	switch {
	case b.duck != nil:
		return b.duck.EnforceRetention(ctx, duckdb.Retention(b.retention), now)
	case b.ch != nil:
		return b.ch.EnforceRetention(ctx, clickhouse.Retention(b.retention), now)
	}
	return nil, errors.New("retention: no store open")
}

// startRetention runs a retention pass now and every retentionEvery
// until Close.
func (b *Backends) startRetention(ctx context.Context, log *slog.Logger) {
	ctx, b.stopRetention = context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	b.retentionDone = done
	log = log.With("component", "retention", "policy", b.retention.String())
	go func() {
		defer close(done)
		tick := time.NewTicker(retentionEvery)
		defer tick.Stop()
		for {
			start := time.Now()
			res, err := b.EnforceRetention(ctx, start)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Error("retention pass failed; the next one retries", "err", err)
			case !res.Empty():
				log.Info("retention pass", "did", res.String(), "took", time.Since(start).Round(time.Millisecond))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}
