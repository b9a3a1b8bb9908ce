package clickhouse

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func TestParseMigration(t *testing.T) {
	m, err := parseMigration("0007_tune_things.sql", `-- requires: 20.3
--
-- Why this helps.
ALTER TABLE a
    MODIFY COLUMN x LowCardinality(String);

ALTER TABLE b MODIFY TTL toDateTime(t) + INTERVAL 1 DAY;
`)
	require.NoError(t, err)
	require.Equal(t, 7, m.version)
	require.Equal(t, "tune_things", m.name)
	require.Equal(t, "20.3", m.requires)
	require.Equal(t, []int{20, 3}, m.minServer)
	require.Equal(t, []string{
		"ALTER TABLE a\n    MODIFY COLUMN x LowCardinality(String)",
		"ALTER TABLE b MODIFY TTL toDateTime(t) + INTERVAL 1 DAY",
	}, m.statements)

	f := func(file, body string) {
		t.Helper()
		_, err := parseMigration(file, body)
		require.Error(t, err, "%s: %q", file, body)
	}
	f("base.sql", "SELECT 1;")
	f("0000_zero.sql", "SELECT 1;")
	f("0001_empty.sql", "-- nothing\n")
	f("0001_bad.sql", "-- requires: twenty\nSELECT 1;")
}

func TestCompareVersions(t *testing.T) {
	f := func(server, required string, want int) {
		t.Helper()
		s, err := parseVersion(server)
		require.NoError(t, err)
		r, err := parseVersion(required)
		require.NoError(t, err)
		got := compareVersions(s, r)
		require.Equal(t, want, min(max(got, -1), 1), "%s against %s", server, required)
	}
	f("18.16.1", "20.1", -1)
	f("20.1.2.4", "20.1", 0)
	f("20.10.1", "20.9", 1)
	f("26.9.2.1", "20.1", 1)
	f("20", "20.1", -1)
}

// TestBaseSchemaIsPortable keeps the migrations that run on every server
// (those without "-- requires:") free of what 18.16 lacks, and checks that
// every embedded migration parses.
func TestBaseSchemaIsPortable(t *testing.T) {
	ms, err := loadMigrations(schema.ClickHouseMigrations)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	require.Empty(t, ms[0].requires, "the first migration is the base schema")
	modern := regexp.MustCompile(`(?i)\b(LowCardinality|DateTime64|TTL|CODEC|INDEX\b|Map\(|JSONExtract\w*|toStartOfInterval|WITH\s+FILL|OVER\s*\()`)
	for _, m := range ms {
		if m.requires != "" {
			continue
		}
		for _, stmt := range m.statements {
			require.Empty(t, modern.FindString(stmt), "migration %04d_%s uses a feature 18.16 lacks:\n%s", m.version, m.name, stmt)
		}
	}
	for _, stmt := range []string{
		stateSelect, selectEvents, insertProgress, createMigrationsTable,
		insertLogs, selectLogWindow, selectLogRound, insertMetrics, rollupMinutes, rollupExact, rawExact, rollupPoints, rawPoints, selectSeries,
		statsFoldHead + snapshotSpans + staleSpans + statsFoldTail, selectStaleTasks, selectChangedSpans, selectCandidates, selectErrorLogs, insertDashboard, selectDashboards, insertDocument, selectStoredVersions, selectDocuments,
		insertDeletions, insertTombstoneEvents, insertTaskChanges, selectTenantDeletions, selectTaskDeletions, deletedAtJoin, deletedKeyJoin, deletedKey, deletedLogIDs, refoldSummary, refoldSpans, refoldUpdates,
		refoldSnapshots, selectDeletedMinutes, insertStaleMinutes, deleteRollupMinutes, staleRange,
	} {
		require.Empty(t, modern.FindString(stmt), "a query uses a feature 18.16 lacks:\n%s", strings.TrimSpace(stmt))
	}
}
