package storetest

import (
	"cmp"
	"slices"

	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
)

// expectTasks folds events, as the Store contract defines it, into the
// state of each task, keyed by task id. It is written to be obviously
// right rather than fast: keep the first copy of each event id, sort by
// the order key, and read the answers off the sorted list.
func expectTasks(events []schema.Progress) map[string]store.Task {
	sorted := expectEvents(events)
	tasks := make(map[string]store.Task)
	for _, e := range sorted {
		t, seen := tasks[e.TaskID]
		if !seen {
			t.CreatedAt = e.Timestamp // sorted ascending, so the first is the earliest
		}
		t.Tenant, t.TaskID, t.UserID, t.TaskType, t.TaskName = e.Tenant, e.TaskID, e.UserID, e.TaskType, e.TaskName
		t.Status, t.CurrentStep, t.StepsDone, t.StepsTotal = e.Status, e.CurrentStep, e.StepsDone, e.StepsTotal
		t.Message, t.ETA, t.Error, t.Attributes = e.Message, e.ETA, e.Error, e.Attributes
		t.UpdatedAt, t.Seq, t.IngestOrder, t.EventID = e.Timestamp, e.Seq, e.IngestOrder, e.EventID
		if e.Progress != nil {
			t.Progress, t.ProgressAt = *e.Progress, e.Timestamp
		}
		if e.Status == schema.StatusRunning && t.StartedAt == nil {
			ts := e.Timestamp
			t.StartedAt = &ts
		}
		t.Events++
		tasks[e.TaskID] = t
	}
	return tasks
}

// expectEvents returns the distinct events (first copy of each event id
// wins) sorted by the order key, attributes normalised the way stores
// return them: no attributes read back as a nil map.
func expectEvents(events []schema.Progress) []schema.Progress {
	type key struct{ tenant, id string }
	seen := make(map[key]bool)
	var out []schema.Progress
	for _, e := range events {
		if seen[key{e.Tenant, e.EventID}] {
			continue
		}
		seen[key{e.Tenant, e.EventID}] = true
		if len(e.Attributes) == 0 {
			e.Attributes = nil
		}
		out = append(out, e)
	}
	slices.SortFunc(out, compareOrder)
	return out
}

func compareOrder(a, b schema.Progress) int {
	return cmp.Or(
		cmp.Compare(a.Timestamp, b.Timestamp),
		cmp.Compare(a.Seq, b.Seq),
		cmp.Compare(a.IngestOrder, b.IngestOrder),
		cmp.Compare(a.EventID, b.EventID),
	)
}

// eventsOfTask keeps the events of one task.
func eventsOfTask(events []schema.Progress, taskID string) []schema.Progress {
	var out []schema.Progress
	for _, e := range events {
		if e.TaskID == taskID {
			out = append(out, e)
		}
	}
	return out
}
