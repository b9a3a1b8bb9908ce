package client_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/client"
)

// askErr makes a person's control request of a task, as the web UI does.
func askErr(s *server, taskID, action string) error {
	resp, err := http.Post(s.base+"/v1/tasks/"+taskID+"/"+action, "application/json", strings.NewReader(`{"requested_by":"ana"}`))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s %s: %s", action, taskID, resp.Status)
	}
	return nil
}

// TestWorkerLearnsOfACancelFromItsReports: a task that keeps reporting is
// told of a cancel in an answer; its next Update returns ErrCancelled,
// and Run reports it cancelled, which acknowledges the request.
func TestWorkerLearnsOfACancelFromItsReports(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.base, client.Config{FlushInterval: 10 * time.Millisecond})
	asked := make(chan error, 1)
	go func() {
		// The person sees the task run, then asks.
		deadline := time.Now().Add(patience)
		for time.Now().Before(deadline) {
			if s.get(t, "/v1/tasks/stop-me")["status"] == "running" {
				asked <- askErr(s, "stop-me", "cancel")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		asked <- context.DeadlineExceeded
	}()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var request client.ControlRequest
	err := c.Run(ctx, "stop-me", client.TaskInfo{Type: "scrape_docs"}, func(ctx context.Context, task *client.Task) error {
		for i := 1; ; i++ {
			if err := task.Update(client.Update{Progress: client.Percent(float64(min(i, 99)))}); err != nil {
				request, _ = task.Requested()
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	require.NoError(t, <-asked)
	require.ErrorIs(t, err, client.ErrCancelled)
	require.Equal(t, "ana", request.RequestedBy)
	flush(t, c)
	require.Eventually(t, func() bool {
		task := s.get(t, "/v1/tasks/stop-me")
		control, _ := task["control"].(map[string]any)
		return task["status"] == "cancelled" && control["acknowledged_at"] != nil
	}, patience, 20*time.Millisecond)
}

// TestWorkerWaitsForControl: a worker that reports rarely long-polls for a
// request, and learns of a pause as soon as it is asked.
func TestWorkerWaitsForControl(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.base, client.Config{})
	task := c.Task("long-poller", client.TaskInfo{})
	task.Start()
	flush(t, c)
	s.waitTask(t, "long-poller", "running", 1)

	_, ok, err := task.WaitControl(context.Background(), 0)
	require.NoError(t, err)
	require.False(t, ok, "nothing asked yet")

	asked := make(chan error, 1)
	go func() { asked <- askErr(s, "long-poller", "pause") }()
	r, ok, err := task.WaitControl(context.Background(), 30*time.Second)
	require.NoError(t, err)
	require.NoError(t, <-asked)
	require.True(t, ok)
	require.Equal(t, "pause", r.Action)
	require.False(t, task.CancelRequested(), "a pause is not a cancel")
	got, _ := task.Requested()
	require.Equal(t, r, got)
}
