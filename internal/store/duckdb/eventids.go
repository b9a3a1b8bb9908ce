package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
)

// Logs and metric samples have no primary key (schema/duckdb/0030): an
// insert finds the stored copies of its batch's event ids with one join,
// pruned to the row groups whose id_time range meets the batch's.

// idTime is the id_time of an event id: the unix millisecond a UUIDv7
// carries in its first 48 bits, and 0 for any other id. It must agree
// with the expression migration 0030 fills the column of stored rows
// with: 36 characters, hyphens at 8, 13, 18 and 23, version digit 7 at 14,
// hex digits of either case everywhere else.
func idTime(id string) int64 {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[14] != '7' || id[18] != '-' || id[23] != '-' {
		return 0
	}
	var ms int64
	for i := range len(id) {
		d := hexDigit[id[i]]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
		case d < 0:
			return 0
		case i < 13:
			ms = ms<<4 | int64(d)
		}
	}
	return ms
}

// hexDigit is the value of each hex digit, of either case, and -1 for
// any other byte.
var hexDigit = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = int8(c-'a'+10), int8(c-'a'+10)
	}
	return t
}()

const (
	createStagingIDs = `CREATE OR REPLACE TEMP TABLE staging_ids
    (tenant VARCHAR NOT NULL, event_id VARCHAR NOT NULL, id_time BIGINT NOT NULL)`
	// selectStoredIDs takes the table and the bounds of one id_time range
	// as its parameters. The bounds are spelled out, rather than left to
	// the join, so that the scan skips row groups by their min/max.
	selectStoredIDs = `SELECT t.tenant, t.event_id FROM %s t
JOIN staging_ids s ON t.id_time = s.id_time AND t.event_id = s.event_id AND t.tenant = s.tenant
WHERE t.id_time BETWEEN ? AND ?`
	selectIDTimeCeiling = `SELECT coalesce(max(id_time), 0) FROM %s`
)

// idRangeGap splits a batch's id_times into ranges looked up separately:
// a batch with one old retry in it scans that retry's row groups and the
// new ones, not every row group in between.
const idRangeGap = int64(10 * 60 * 1000)

// unstored drops from batch, in place, the records table already holds,
// and returns the id_time of each record it keeps. It reads inside tx on
// the writer connection, which inserts hold one at a time, so that nothing
// is stored between this look-up and the append that follows.
//
// Only records whose id_time is at most the table's ceiling, the largest
// id_time stored or more, are looked up: ids stamped as the records arrive
// are mostly newer than every stored one, and a record whose id_time is
// above the ceiling cannot be stored. The ceiling is raised before the
// append, so a rolled back transaction leaves it too high, which costs a
// look-up, never a duplicate; so do deletions.
func unstored[T any](ctx context.Context, s *Store, tx *sql.Tx, table string, batch []*T, key func(*T) eventKey) ([]*T, []int64, error) {
	ceiling, ok := s.idTimeCeiling[table]
	if !ok {
		if err := tx.QueryRowContext(ctx, fmt.Sprintf(selectIDTimeCeiling, table)).Scan(&ceiling); err != nil {
			return nil, nil, fmt.Errorf("read largest id_time: %w", err)
		}
	}
	times := make([]int64, len(batch))
	var (
		maybe      []eventKey
		maybeTimes []int64
	)
	for i, r := range batch {
		k := key(r)
		times[i] = idTime(k.eventID)
		if times[i] <= ceiling {
			maybe, maybeTimes = append(maybe, k), append(maybeTimes, times[i])
		}
		ceiling = max(ceiling, times[i])
	}
	s.idTimeCeiling[table] = ceiling
	if len(maybe) == 0 {
		return batch, times, nil
	}
	stored, err := storedKeys(ctx, s, tx, table, maybe, maybeTimes)
	if err != nil || len(stored) == 0 {
		return batch, times, err
	}
	kept := 0
	for i, r := range batch {
		if _, ok := stored[key(r)]; !ok {
			batch[kept], times[kept] = r, times[i]
			kept++
		}
	}
	return batch[:kept], times[:kept], nil
}

// storedKeys returns which of keys, whose id_times are times, table holds.
func storedKeys(ctx context.Context, s *Store, tx *sql.Tx, table string, keys []eventKey, times []int64) (map[eventKey]struct{}, error) {
	if _, err := tx.ExecContext(ctx, createStagingIDs); err != nil {
		return nil, fmt.Errorf("create staging_ids: %w", err)
	}
	if err := s.appendRows(ctx, "temp.staging_ids", []string{"tenant", "event_id", "id_time"}, len(keys), func(row []driver.Value, i int) []driver.Value {
		return append(row, keys[i].tenant, keys[i].eventID, times[i])
	}); err != nil {
		return nil, fmt.Errorf("stage ids: %w", err)
	}
	query := fmt.Sprintf(selectStoredIDs, table)
	stored := map[eventKey]struct{}{}
	for _, r := range idRanges(times) {
		if err := collectIDs(ctx, tx, query, r, stored); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

// idRanges covers times with ranges no gap of more than idRangeGap falls
// inside.
func idRanges(times []int64) [][2]int64 {
	times = slices.Clone(times)
	slices.Sort(times)
	var ranges [][2]int64
	for i, t := range times {
		if i == 0 || t-times[i-1] > idRangeGap {
			ranges = append(ranges, [2]int64{t, t})
		}
		ranges[len(ranges)-1][1] = t
	}
	return ranges
}

func collectIDs(ctx context.Context, tx *sql.Tx, query string, r [2]int64, into map[eventKey]struct{}) error {
	rows, err := tx.QueryContext(ctx, query, r[0], r[1])
	if err != nil {
		return fmt.Errorf("look up stored ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k eventKey
		if err := rows.Scan(&k.tenant, &k.eventID); err != nil {
			return fmt.Errorf("look up stored ids: %w", err)
		}
		into[k] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up stored ids: %w", err)
	}
	return nil
}
