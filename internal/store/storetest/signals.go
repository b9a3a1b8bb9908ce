package storetest

import (
	"context"
	"testing"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Signals is every contract a full store keeps: progress, logs, metrics,
// statistics and dashboards.
type Signals interface {
	store.Store
	store.LogStore
	store.MetricStore
	store.StatsStore
	store.DashboardStore
}

// RunSignals runs the scenarios of the log, metric, statistics and
// dashboard contracts against stores returned by open, which is called
// once per scenario and may return the same store each time. Like Run,
// every scenario writes under tenants of its own, and every expected
// answer is computed here from the inputs: metric aggregates by a plain
// fold (seriesexpect.go), quantiles as exact order statistics that a store
// may miss by store.QuantileTolerance of the bucket's range.
func RunSignals(t *testing.T, open func(t testing.TB) Signals) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, f *signalFixture)
	}{
		{"LogRoundTrip", testLogRoundTrip},
		{"LogRedelivery", testLogRedelivery},
		{"LogFilters", testLogFilters},
		{"LogPagination", testLogPagination},
		{"LogTenantIsolation", testLogTenantIsolation},
		{"LogLimitRequired", testLogLimitRequired},
		{"MetricAggregations", testMetricAggregations},
		{"MetricMatchersAndGroups", testMetricMatchersAndGroups},
		{"MetricRedelivery", testMetricRedelivery},
		{"MetricRollupMatchesRaw", testMetricRollupMatchesRaw},
		{"MetricPartialLastMinute", testMetricPartialLastMinute},
		{"MetricTenantIsolation", testMetricTenantIsolation},
		{"Stats", testStats},
		{"StatsTenantIsolation", testStatsTenantIsolation},
		{"Dashboards", testDashboards},
		{"DashboardTenantIsolation", testDashboardTenantIsolation},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, &signalFixture{t: t, s: open(t), tenant: uniqueTenant(t, "")})
		})
	}
}

// signalFixture is one scenario's store and tenant.
type signalFixture struct {
	t      *testing.T
	s      Signals
	tenant string
}

func (f *signalFixture) ctx() context.Context { return f.t.Context() }

// other returns a fixture on the same store under another tenant.
func (f *signalFixture) other(suffix string) *signalFixture {
	return &signalFixture{t: f.t, s: f.s, tenant: uniqueTenant(f.t, suffix)}
}
