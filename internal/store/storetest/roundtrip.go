package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

// testRoundTrip stores events that set every field, including unicode
// text and the difference between an unset and a zero progress or ETA,
// and reads them back unchanged.
func testRoundTrip(t *testing.T, f *fixture) {
	eta := int64(90)
	zeroETA := int64(0)
	full := func(e *schema.Progress) {
		e.UserID = "usér-1"
		e.TaskType = "create_skill"
		e.TaskName = "Créer la compétence « 技能 » 🚀"
		e.CurrentStep = "scrape — 第2步"
		e.StepsDone, e.StepsTotal = 2, 7
		e.Message = "line one\nline two\t¿ok?"
		e.ETA = &eta
		e.Error = "tcp: ошибка"
		e.Attributes = map[string]string{"repo": "skill-seekers", "ключ": "значение", "emoji 🎉": "", "a.b": "x=y"}
	}
	events := []schema.Progress{
		f.event("task-1", "ev-1", baseTime, schema.StatusPending, full, withOrder(1, 10)),
		f.event("task-1", "ev-2", baseTime+1500, schema.StatusRunning, full, withProgress(33.25), withOrder(2, 11)),
		f.event("task-1", "ev-3", baseTime+2500, schema.StatusRunning, full, withProgress(0), func(e *schema.Progress) {
			e.ETA = &zeroETA
			e.Attributes = map[string]string{"only": "one"}
		}),
		f.event("task-1", "ev-4", baseTime+3000, schema.StatusPaused, withMessage("waiting for a quota")),
	}
	f.insert(events...)

	got := f.allEvents(f.tenant, "task-1")
	require.Equal(t, expectEvents(events), got)
	require.Nil(t, got[0].Progress, "an event without progress must read back with none")
	require.NotNil(t, got[2].Progress, "a progress of 0 must read back as set")
	require.NotNil(t, got[2].ETA, "an ETA of 0 must read back as set")
	require.Nil(t, got[3].ETA)

	task := f.task("task-1")
	require.Equal(t, expectTasks(events)["task-1"], task)
	require.Equal(t, schema.StatusPaused, task.Status)
	require.Equal(t, 0.0, task.Progress, "progress comes from ev-3, which set it to 0")
	require.Equal(t, baseTime+2500, task.ProgressAt)
	require.Equal(t, int64(4), task.Events)
}

// testNoAttributes checks that a missing and an empty attribute map both
// read back as nil, for events and for the task.
func testNoAttributes(t *testing.T, f *fixture) {
	events := []schema.Progress{
		f.event("t", "a", baseTime, schema.StatusRunning),
		f.event("t", "b", baseTime+1, schema.StatusRunning, func(e *schema.Progress) { e.Attributes = map[string]string{} }),
	}
	f.insert(events...)
	for _, e := range f.allEvents(f.tenant, "t") {
		require.Nil(t, e.Attributes, "event %s", e.EventID)
	}
	require.Nil(t, f.task("t").Attributes)
}
