package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// ErrCancelled is what Update returns once the server asked the task to stop.
var ErrCancelled = errors.New("client: the server asked the task to stop")

// TaskInfo describes a task; every report of the task repeats it.
type TaskInfo struct {
	Type       string
	Name       string
	UserID     string
	StepsTotal int64
	Attributes map[string]string
}

// Update is one progress report. Step, StepsDone and StepsTotal carry
// over to later reports until changed.
type Update struct {
	Progress   *float64 // 0-100; see Percent
	Step       string
	Message    string
	StepsDone  int64
	StepsTotal int64
	ETA        *int64 // seconds left
	Attributes map[string]string
}

// Task is one run of a task. Its methods are safe for concurrent use.
type Task struct {
	c               *Client
	cancelRequested atomic.Bool
	request         atomic.Value // of ControlRequest

	mu       sync.Mutex
	state    Progress // what every report repeats
	finished bool
}

// Task makes a handle for the task id (a new UUIDv7 when empty). Start
// reports it running; Run does the whole life.
func (c *Client) Task(id string, info TaskInfo) *Task {
	if id == "" {
		id = uuid.Must(uuid.NewV7()).String()
	}
	t := &Task{c: c, state: Progress{
		TaskID: id, TaskType: info.Type, TaskName: info.Name, UserID: info.UserID,
		StepsTotal: info.StepsTotal, Attributes: info.Attributes,
	}}
	return t
}

// Run reports a task running, calls fn, and reports the task completed
// when fn returns nil, cancelled when it returns ErrCancelled or
// context.Canceled, and failed otherwise, with the error as the task's
// error. A panic in fn fails the task and goes on. Run returns fn's error.
func (c *Client) Run(ctx context.Context, id string, info TaskInfo, fn func(context.Context, *Task) error) (err error) {
	t := c.Task(id, info)
	t.Start()
	defer func() {
		if p := recover(); p != nil {
			t.Fail(fmt.Errorf("panic: %v", p))
			panic(p)
		}
		switch {
		case err == nil:
			t.Complete("")
		case errors.Is(err, ErrCancelled) || errors.Is(err, context.Canceled):
			t.Cancel(err.Error())
		default:
			t.Fail(err)
		}
	}()
	return fn(ctx, t)
}

// ID is the task's id.
func (t *Task) ID() string { return t.state.TaskID }

// CancelRequested reports whether the server asked the task to stop.
func (t *Task) CancelRequested() bool { return t.cancelRequested.Load() }

// Requested returns the latest control request the server made of the
// task, from the answer to its reports or WaitControl, and false while it
// made none.
func (t *Task) Requested() (ControlRequest, bool) {
	r, ok := t.request.Load().(ControlRequest)
	return r, ok
}

// asked records a control request of the task; a cancel makes its next
// Update return ErrCancelled.
func (t *Task) asked(r ControlRequest) {
	t.request.Store(r)
	if r.Action == "cancel" {
		t.cancelRequested.Store(true)
	}
}

// WaitControl waits up to wait (at most a minute) for a control request
// of the task: a long poll, for a worker that reports rarely. It returns
// false when none came within the wait.
func (t *Task) WaitControl(ctx context.Context, wait time.Duration) (ControlRequest, bool, error) {
	u := t.c.cfg.URL + "/v1/tasks/" + url.PathEscape(t.ID()) + "/control?wait=" + url.QueryEscape(wait.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ControlRequest{}, false, err
	}
	if auth := t.c.header.Get("Authorization"); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	// The poll outlasts the client's timeout for reports.
	poll := *t.c.http
	poll.Timeout = wait + 10*time.Second
	resp, err := poll.Do(req)
	if err != nil {
		return ControlRequest{}, false, fmt.Errorf("client: wait for control: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent:
		return ControlRequest{}, false, nil
	case http.StatusOK:
		var r ControlRequest
		if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&r); err != nil {
			return ControlRequest{}, false, fmt.Errorf("client: wait for control: %w", err)
		}
		t.asked(r)
		return r, true, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return ControlRequest{}, false, fmt.Errorf("client: wait for control: %s: %s", resp.Status, body)
}

// Start reports the task running at progress 0.
func (t *Task) Start() {
	t.c.tasks.Store(t.ID(), t)
	t.report(Progress{Status: StatusRunning, Progress: Percent(0)})
}

// Update reports progress. It returns ErrCancelled, and reports nothing,
// once the server asked the task to stop.
func (t *Task) Update(u Update) error {
	if t.CancelRequested() {
		return ErrCancelled
	}
	t.mu.Lock()
	if u.Step != "" {
		t.state.CurrentStep = u.Step
	}
	if u.StepsDone != 0 {
		t.state.StepsDone = u.StepsDone
	}
	if u.StepsTotal != 0 {
		t.state.StepsTotal = u.StepsTotal
	}
	t.mu.Unlock()
	t.report(Progress{Status: StatusRunning, Progress: u.Progress, Message: u.Message, ETA: u.ETA, Attributes: u.Attributes})
	return nil
}

// Complete reports the task completed at 100%, all its steps done.
func (t *Task) Complete(message string) {
	t.mu.Lock()
	t.state.StepsDone = max(t.state.StepsDone, t.state.StepsTotal)
	t.mu.Unlock()
	t.finish(Progress{Status: StatusCompleted, Progress: Percent(100), Message: message})
}

// Fail reports the task failed with err.
func (t *Task) Fail(err error) {
	t.finish(Progress{Status: StatusFailed, Error: err.Error()})
}

// Cancel reports the task cancelled.
func (t *Task) Cancel(message string) {
	t.finish(Progress{Status: StatusCancelled, Message: message})
}

// Log queues a log line of the task.
func (t *Task) Log(level, message string) {
	t.c.Log(Log{TaskID: t.ID(), UserID: t.state.UserID, Level: level, Message: message})
}

// Metric queues a gauge sample of the task.
func (t *Task) Metric(name string, value float64, labels map[string]string) {
	t.c.Metric(Metric{TaskID: t.ID(), Name: name, Value: value, Labels: labels})
}

// finish reports the task's final status, once.
func (t *Task) finish(p Progress) {
	t.mu.Lock()
	done := t.finished
	t.finished = true
	t.mu.Unlock()
	if done {
		return
	}
	t.c.tasks.CompareAndDelete(t.ID(), t)
	t.report(p)
}

// report queues p with the task's state. The seq and the client's
// timestamp are what the server orders a task's events by, so the order
// holds however batches are retried.
func (t *Task) report(p Progress) {
	t.mu.Lock()
	t.state.Seq++
	p.Seq = t.state.Seq
	p.Timestamp = time.Now().UnixMilli()
	p.TaskID, p.TaskType, p.TaskName, p.UserID = t.state.TaskID, t.state.TaskType, t.state.TaskName, t.state.UserID
	p.CurrentStep, p.StepsDone, p.StepsTotal = t.state.CurrentStep, t.state.StepsDone, t.state.StepsTotal
	if p.Attributes == nil {
		p.Attributes = t.state.Attributes
	}
	t.mu.Unlock()
	t.c.Progress(p)
}
