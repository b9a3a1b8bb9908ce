// Package storetest is the conformance suite every store.Store
// implementation must pass, over the whole contract: the DuckDB store
// always, the ClickHouse store when a server is configured.
//
// Each scenario writes under a tenant of its own, named after the test and
// the moment it ran, so that implementations backed by a shared server can
// hand every scenario the same store and never clean up between runs.
// Every expected answer is computed here from the inputs, never by the
// implementation under test: task states by a plain fold (expect.go),
// metric aggregates by another (seriesexpect.go), and quantiles as exact
// order statistics that a store may miss by store.QuantileTolerance of the
// bucket's range.
package storetest

import (
	"testing"

	"github.com/taskpulse/taskpulse/internal/store"
)

// Run runs every scenario against stores returned by open. open is called
// once per scenario and may return the same store each time; it should
// register the store's cleanup on t.
func Run(t *testing.T, open func(t testing.TB) store.Store) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, f *fixture)
	}{
		{"RoundTrip", testRoundTrip},
		{"NoAttributes", testNoAttributes},
		{"Redelivery", testRedelivery},
		{"RedeliveryWithOtherContent", testRedeliveryWithOtherContent},
		{"DuplicatesWithinBatch", testDuplicatesWithinBatch},
		{"AllOrNothing", testAllOrNothing},
		{"OrderIndependence", testOrderIndependence},
		{"TieBreaks", testTieBreaks},
		{"ProgressCarried", testProgressCarried},
		{"CreatedAndStarted", testCreatedAndStarted},
		{"TenantIsolation", testTenantIsolation},
		{"NotFound", testNotFound},
		{"Filters", testFilters},
		{"TaskPagination", testTaskPagination},
		{"EventPagination", testEventPagination},
		{"LimitRequired", testLimitRequired},
		{"ConcurrentWriters", testConcurrentWriters},

		{"LogRoundTrip", testLogRoundTrip},
		{"LogRedelivery", testLogRedelivery},
		{"LogFilters", testLogFilters},
		{"LogPagination", testLogPagination},
		{"LogTenantIsolation", testLogTenantIsolation},
		{"LogLimitRequired", testLogLimitRequired},
		{"MetricAggregations", testMetricAggregations},
		{"MetricMatchersAndGroups", testMetricMatchersAndGroups},
		{"MetricTaskFilter", testMetricTaskFilter},
		{"TaskMetrics", testTaskMetrics},
		{"MetricRedelivery", testMetricRedelivery},
		{"MetricRollupMatchesRaw", testMetricRollupMatchesRaw},
		{"MetricPartialLastMinute", testMetricPartialLastMinute},
		{"MetricTenantIsolation", testMetricTenantIsolation},
		{"Stats", testStats},
		{"StatsTenantIsolation", testStatsTenantIsolation},

		{"Dashboards", testDashboards},
		{"DashboardTenantIsolation", testDashboardTenantIsolation},
		{"DashboardIfMatch", testDashboardIfMatch},
		{"DashboardConcurrentIfMatch", testDashboardConcurrentIfMatch},
		{"DashboardConcurrentUpdates", testDashboardConcurrentUpdates},

		{"DocumentPutGetList", testDocumentPutGetList},
		{"DocumentOnlyHigherVersionsReplace", testDocumentOnlyHigherVersionsReplace},
		{"DocumentDeleteIsAVersionedTombstone", testDocumentDeleteIsAVersionedTombstone},
		{"DocumentTenantIsolation", testDocumentTenantIsolation},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, newFixture(t, open(t)))
		})
	}
}
