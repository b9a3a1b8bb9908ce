package duckdb

import (
	"github.com/taskpulse/taskpulse/schema"
)

// taskKey names a task across tenants.
type taskKey struct{ tenant, taskID string }

// taskDelta is what a batch's new events contribute to one task's state.
// The tasks upsert merges it with the stored row using the same rules, so
// folding a batch and then merging equals folding every event at once.
type taskDelta struct {
	latest       *schema.Progress // latest event by the order key
	withProgress *schema.Progress // latest event that carried progress, or nil
	createdAt    int64            // earliest timestamp
	startedAt    *int64           // earliest timestamp of a "running" event
	events       int64
}

// foldEvents groups new events by task and folds each group.
func foldEvents(events []*schema.Progress) map[taskKey]*taskDelta {
	deltas := make(map[taskKey]*taskDelta)
	for _, e := range events {
		k := taskKey{e.Tenant, e.TaskID}
		d := deltas[k]
		if d == nil {
			d = &taskDelta{latest: e, createdAt: e.Timestamp}
			deltas[k] = d
		}
		d.add(e)
	}
	return deltas
}

func (d *taskDelta) add(e *schema.Progress) {
	d.events++
	if later(e, d.latest) {
		d.latest = e
	}
	if e.Progress != nil && (d.withProgress == nil || later(e, d.withProgress)) {
		d.withProgress = e
	}
	d.createdAt = min(d.createdAt, e.Timestamp)
	if e.Status == schema.StatusRunning && (d.startedAt == nil || e.Timestamp < *d.startedAt) {
		ts := e.Timestamp
		d.startedAt = &ts
	}
}

// later reports whether a sorts after b in their task's order. Event ids
// compare as bytes, as DuckDB compares VARCHAR, so this agrees with the
// row comparison in the tasks upsert.
func later(a, b *schema.Progress) bool { return a.Order().After(b.Order()) }
