package alerting

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

// TestNotificationsCountUnread reads the unread count beside the list,
// on each store: among what the filters select whatever the limit, and
// one less once a notification is read.
func TestNotificationsCountUnread(t *testing.T) {
	onEachStore(t, func(t *testing.T, open storeOpener) {
		e := newEnvOn(t, open, `rules: [{id: crit, kind: task_failed, severity: critical, task_type: a}, {id: info, kind: task_failed, severity: info, task_type: b}]`)
		s := e.start(t)
		e.taskEvent(t, schema.Progress{TaskID: "t1", TaskType: "a", UserID: "alice", Status: schema.StatusFailed})
		e.taskEvent(t, schema.Progress{TaskID: "t2", TaskType: "b", UserID: "bob", Status: schema.StatusFailed})
		e.taskEvent(t, schema.Progress{TaskID: "t3", TaskType: "a", UserID: "bob", Status: schema.StatusFailed})
		require.Eventually(t, func() bool { return len(s.notifications(t, "")) == 3 }, patience, 10*time.Millisecond)

		unread := func(query string) float64 {
			t.Helper()
			status, body := s.call(t, http.MethodGet, "/v1/notifications?"+query, "")
			require.Equal(t, http.StatusOK, status, body)
			return body["unread"].(float64)
		}
		require.Equal(t, 3.0, unread("limit=1"), "the count is not cut by the limit")
		require.Equal(t, 2.0, unread("user_id=bob"))
		require.Equal(t, 2.0, unread("severity=critical"))

		one := s.notifications(t, "user_id=alice")
		status, body := s.call(t, http.MethodPost, "/v1/notifications/"+one[0].ID+"/read", "")
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, 2.0, unread(""))
		require.Equal(t, 2.0, unread("unread=true"))
		require.Equal(t, 0.0, unread("user_id=alice"))
		require.Len(t, s.notifications(t, "unread=true"), 2)
		require.Len(t, s.notifications(t, ""), 3, "a read notification is still listed")
	})
}

// TestAlertsSayWhichSilenceHoldsThem makes a rule fire for two tasks on
// each store, silences one task's alert through the API, and reads the
// alerts as the API answers them: only that one is silenced, by that
// silence, until it is expired.
func TestAlertsSayWhichSilenceHoldsThem(t *testing.T) {
	onEachStore(t, func(t *testing.T, open storeOpener) {
		e := newEnvOn(t, open, `
rules:
  - id: failed
    kind: task_failed
    severity: critical
`)
		s := e.start(t)
		e.taskEvent(t, schema.Progress{TaskID: "t1", Status: schema.StatusFailed})
		e.taskEvent(t, schema.Progress{TaskID: "t2", Status: schema.StatusFailed})
		require.Eventually(t, func() bool { return len(s.eval.alertsOf("default")) == 2 }, patience, 10*time.Millisecond)

		silenced := func() map[string]string {
			t.Helper()
			status, body := s.call(t, http.MethodGet, "/v1/alerts", "")
			require.Equal(t, http.StatusOK, status, body)
			out := map[string]string{}
			for _, raw := range body["alerts"].([]any) {
				v := raw.(map[string]any)
				by, _ := v["silenced_by"].(string)
				require.Equal(t, v["silenced"], by != "", "silenced says whether silenced_by names a silence")
				out[v["task_id"].(string)] = by
			}
			return out
		}
		require.Equal(t, map[string]string{"t1": "", "t2": ""}, silenced())

		status, body := s.call(t, http.MethodPost, "/v1/silences",
			`{"matchers":[{"name":"rule","op":"=","value":"failed"},{"name":"task_id","op":"=","value":"t2"}],"duration":"1h"}`)
		require.Equal(t, http.StatusCreated, status, body)
		id := body["id"].(string)
		require.Equal(t, map[string]string{"t1": "", "t2": id}, silenced())

		status, _ = s.call(t, http.MethodDelete, "/v1/silences/"+id, "")
		require.Equal(t, http.StatusNoContent, status)
		require.Equal(t, map[string]string{"t1": "", "t2": ""}, silenced(), "an expired silence holds nothing")
	})
}
