package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"

	"github.com/taskpulse/taskpulse/schema"
)

// metricColumns fixes the order in which samples are read; appends add
// id_time (see eventids.go).
const metricColumns = `tenant, event_id, timestamp, ingest_order, name, kind, value, unit,
    label_keys, label_values, task_id`

var metricAppendColumns = append(columnNames(metricColumns), "id_time")

const (
	createStagingRollup = `CREATE OR REPLACE TEMP TABLE staging_rollup AS
SELECT ` + rollupColumns + ` FROM metric_rollup LIMIT 0`
	// selectStoredRollup reads the stored rows the batch touches. The
	// minute range lets DuckDB skip row groups of other minutes before
	// joining.
	selectStoredRollup = `SELECT ` + rollupColumns + ` FROM metric_rollup
SEMI JOIN staging_rollup USING (tenant, name, series, minute)
WHERE minute >= ? AND minute <= ?`
	replaceRollup = `INSERT OR REPLACE INTO metric_rollup (` + rollupColumns + `)
SELECT ` + rollupColumns + ` FROM staging_rollup`
)

// InsertMetrics stores samples and folds the new ones into the rollup, in
// one transaction, all or none. Samples already stored, and repeats within
// the batch, are skipped and never reach the rollup, so a redelivered
// batch counts once there too; so are samples of a deleted task from
// before its deletion (see delete.go).
func (s *Store) InsertMetrics(ctx context.Context, samples []schema.Metric) error {
	batch, err := distinctMetrics(samples)
	if err != nil {
		return fmt.Errorf("insert metrics batch: %w", err)
	}
	if len(batch) == 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	batch, err = undeleted(ctx, s, batch, func(m *schema.Metric) (taskKey, int64) { return taskKey{m.Tenant, m.TaskID}, m.Timestamp })
	if err != nil {
		return fmt.Errorf("insert metrics batch: %w", err)
	}
	if len(batch) == 0 {
		return nil
	}
	if err := s.insertMetrics(ctx, batch); err != nil {
		return fmt.Errorf("insert metrics batch: %w", err)
	}
	return nil
}

// distinctMetrics checks the fields every stored sample needs and keeps
// the first copy of each event id. A value must be finite, since sums and
// the quantile sketch cannot hold anything else.
func distinctMetrics(samples []schema.Metric) ([]*schema.Metric, error) {
	seen := make(map[eventKey]struct{}, len(samples))
	batch := make([]*schema.Metric, 0, len(samples))
	for i := range samples {
		m := &samples[i]
		if m.Tenant == "" || m.EventID == "" || m.Timestamp == 0 || m.Name == "" {
			return nil, fmt.Errorf("sample %d: tenant, event_id, timestamp and name are required", i)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return nil, fmt.Errorf("sample %d: value %v is not finite", i, m.Value)
		}
		if m.Kind != "" && !m.Kind.Valid() {
			return nil, fmt.Errorf("sample %d: unknown kind %q", i, m.Kind)
		}
		k := eventKey{m.Tenant, m.EventID}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		batch = append(batch, m)
	}
	return batch, nil
}

// insertMetrics appends the samples of batch that metrics does not hold
// yet and folds them, and only them, into the rollup.
func (s *Store) insertMetrics(ctx context.Context, batch []*schema.Metric) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		batch, times, err := unstored(ctx, s, tx, "metrics", batch, func(m *schema.Metric) eventKey { return eventKey{m.Tenant, m.EventID} })
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := s.appendRows(ctx, "metrics", metricAppendColumns, len(batch), func(row []driver.Value, i int) []driver.Value {
			return metricRow(row, batch[i], times[i])
		}); err != nil {
			return fmt.Errorf("append metrics: %w", err)
		}
		return s.mergeRollup(ctx, tx, foldSamples(batch))
	})
}

// metricRow appends m's values, idTime its id's, in the order of
// metricAppendColumns; a sample without a kind is a gauge.
func metricRow(row []driver.Value, m *schema.Metric, idTime int64) []driver.Value {
	kind := m.Kind
	if kind == "" {
		kind = schema.KindGauge
	}
	keys, values := attrLists(m.Labels)
	return append(row, m.Tenant, m.EventID, m.Timestamp, m.IngestOrder, m.Name, string(kind), m.Value, m.Unit,
		keys, values, m.TaskID, idTime)
}

// mergeRollup merges the batch's rows with the stored rows of the same
// series and minutes and writes the results back. The stored rows are
// read on the writer connection inside the insert's transaction, and
// inserts are serialised, so no other write can slip between the read and
// the write.
func (s *Store) mergeRollup(ctx context.Context, tx *sql.Tx, deltas map[rollupKey]*rollupRow) error {
	list := make([]*rollupRow, 0, len(deltas))
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, r := range deltas {
		list = append(list, r)
		first, last = min(first, r.minute), max(last, r.minute)
	}
	if err := s.stageRollup(ctx, tx, list); err != nil {
		return err
	}
	merged, err := mergeStored(ctx, tx, deltas, first, last)
	if err != nil {
		return err
	}
	if merged {
		// The staged rows were the batch's alone; stage the merged ones.
		if err := s.stageRollup(ctx, tx, list); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, replaceRollup); err != nil {
		return fmt.Errorf("write rollup: %w", err)
	}
	return nil
}

func (s *Store) stageRollup(ctx context.Context, tx *sql.Tx, list []*rollupRow) error {
	if _, err := tx.ExecContext(ctx, createStagingRollup); err != nil {
		return fmt.Errorf("create staging_rollup: %w", err)
	}
	if err := s.appendRows(ctx, "temp.staging_rollup", rollupColumnNames, len(list), func(row []driver.Value, i int) []driver.Value {
		return rollupValues(row, list[i])
	}); err != nil {
		return fmt.Errorf("stage rollup: %w", err)
	}
	return nil
}

// mergeStored merges each stored row the batch touches into its delta and
// reports whether there was any.
func mergeStored(ctx context.Context, tx *sql.Tx, deltas map[rollupKey]*rollupRow, first, last int64) (bool, error) {
	rows, err := tx.QueryContext(ctx, selectStoredRollup, first, last)
	if err != nil {
		return false, fmt.Errorf("read rollup: %w", err)
	}
	defer rows.Close()
	merged := false
	for rows.Next() {
		stored, err := scanRollup(rows)
		if err != nil {
			return false, fmt.Errorf("read rollup: %w", err)
		}
		deltas[stored.rollupKey].merge(stored)
		merged = true
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read rollup: %w", err)
	}
	return merged, nil
}
