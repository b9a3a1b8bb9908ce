package client

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// delivery is one batch on its way to the server.
type delivery struct {
	signal  signal
	entries []entry
	attempt int
}

func (d *delivery) body() []byte {
	n := 2
	for _, e := range d.entries {
		n += len(e.json) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, e := range d.entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.json...)
	}
	return append(b, ']')
}

// answer is what the client reads of the server's answers: the 2xx
// answer's count and control requests, a refusal's details.
type answer struct {
	Accepted int             `json:"accepted"`
	Control  json.RawMessage `json:"control"`
	Error    struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Index  *int   `json:"index"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"details"`
	} `json:"error"`
}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// run is one sender: it sends what is queued each FlushInterval, or
// sooner when woken, until Close cancels c.ctx. While it sends a batch it
// wakes another sender for the rest: with several requests in flight the
// server acknowledges them together, at one bus sync.
func (c *Client) run() {
	defer c.senders.Done()
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		case <-tick.C:
		}
		for d, more := c.queue.next(c.cfg.MaxBatch); d != nil; d, more = c.queue.next(c.cfg.MaxBatch) {
			if more {
				c.signal()
			}
			c.send(d)
		}
	}
}

// send posts d until it is settled, or gives it up when the client closes.
func (c *Client) send(d *delivery) {
	for {
		if c.ctx.Err() != nil {
			c.queue.settle(0, 0, len(d.entries))
			return
		}
		wait, done := c.attempt(d)
		if done {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		}
	}
}

// attempt posts d once and says whether it is settled, or else how long
// to wait before the next attempt.
func (c *Client) attempt(d *delivery) (time.Duration, bool) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.cfg.URL+routes[d.signal], bytes.NewReader(d.body()))
	if err != nil {
		panic("BUG: cannot make a request: " + err.Error())
	}
	req.Header = c.header.Clone()
	resp, err := c.http.Do(req)
	if err != nil {
		return c.retry(d, -1), false
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	if err != nil && resp.StatusCode/100 != 2 {
		return c.retry(d, -1), false
	}
	var a answer
	_ = json.Unmarshal(raw, &a) // an answer that is not JSON reads as empty
	switch status := resp.StatusCode; {
	case status/100 == 2:
		c.queue.settle(len(d.entries), 0, 0)
		c.control(a.Control)
		return 0, true
	case status == http.StatusBadRequest && c.dropBad(d, a):
		return 0, len(d.entries) == 0
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return c.retry(d, retryAfter(resp.Header.Get("Retry-After"))), false
	default:
		c.log.Error("server refused a batch", "route", routes[d.signal], "events", len(d.entries),
			"status", status, "code", a.Error.Code, "message", a.Error.Message)
		c.queue.settle(0, len(d.entries), 0)
		return 0, true
	}
}

// retry counts a retry of d and returns the wait before it: exponential
// backoff with full jitter, or the server's Retry-After (when not
// negative) with a tenth of that jitter, which only spreads clients out.
func (c *Client) retry(d *delivery, after time.Duration) time.Duration {
	c.queue.retried()
	ceiling := min(c.cfg.BackoffMax, c.cfg.BackoffBase<<min(d.attempt, 30))
	if ceiling <= 0 { // the shift overflowed
		ceiling = c.cfg.BackoffMax
	}
	d.attempt++
	jitter := rand.N(ceiling + 1)
	if after >= 0 {
		return after + jitter/10
	}
	return jitter
}

// dropBad drops the items a 400 names, keeping the rest; false when it
// names none, or names items the batch does not have.
func (c *Client) dropBad(d *delivery, a answer) bool {
	bad := map[int]bool{}
	for _, det := range a.Error.Details {
		if det.Index == nil || *det.Index < 0 || *det.Index >= len(d.entries) {
			return false
		}
		bad[*det.Index] = true
		c.log.Error("server refused an event", "route", routes[d.signal], "field", det.Field, "reason", det.Reason)
	}
	if len(bad) == 0 {
		return false
	}
	kept := d.entries[:0:0]
	for i, e := range d.entries {
		if !bad[i] {
			kept = append(kept, e)
		}
	}
	d.entries = kept
	c.queue.settle(0, len(bad), 0)
	return true
}

// control passes the answer's control requests to the tasks they name.
func (c *Client) control(raw json.RawMessage) {
	for _, r := range parseControl(raw) {
		if t, ok := c.tasks.Load(r.TaskID); ok {
			t.(*Task).asked(r)
		}
	}
}

// ControlRequest is a request a person made of a task, as the server
// delivers it to the worker: "cancel", "pause" or "resume", and when and
// by whom it was asked. The worker acknowledges it by reporting the status
// it asks for (Cancel, or a report with status paused or running).
type ControlRequest struct {
	TaskID      string    `json:"task_id"`
	Action      string    `json:"action"`
	RequestedAt time.Time `json:"requested_at"`
	RequestedBy string    `json:"requested_by"`
	AckDeadline time.Time `json:"ack_deadline"`
}

// parseControl reads the "control" field of an answer to a progress
// batch: the requests pending for its tasks. Anything else reads as none.
func parseControl(raw json.RawMessage) []ControlRequest {
	var requests []ControlRequest
	if len(raw) == 0 || json.Unmarshal(raw, &requests) != nil {
		return nil
	}
	return requests
}

// retryAfter reads Retry-After, in seconds or as an HTTP date; -1 when
// absent or unreadable.
func retryAfter(v string) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(0, s)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return -1
}
