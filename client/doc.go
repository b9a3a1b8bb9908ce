// Package client reports task progress, logs and metrics to a TaskPulse
// server, keeping the server's guarantees on the client's side of the
// wire.
//
// Every report is queued and sent by one background goroutine in
// batches, one route per signal (/v1/progress, /v1/logs, /v1/metrics): a
// batch leaves when it holds Config.MaxBatch events or when
// Config.FlushInterval has passed. Each event carries a UUIDv7 made here,
// so a batch sent again after a lost answer is stored once. A batch
// answered 408, 429 or 5xx, or not answered, is sent again after an
// exponential backoff with full jitter, or after the answer's
// Retry-After. A 400 that names bad items drops those and sends the rest
// at once; other refusals drop the batch. The queue holds at most
// Config.MaxQueue events; past it new events are dropped and counted in
// Stats, except a task's final status, which is always kept.
//
// A task's events carry the client's timestamp and a per-task sequence
// number, which is how the server orders them, so retries never reorder
// a task.
//
// A person may ask a task's worker to cancel, pause or resume it. The
// answer to a batch of the task's progress carries the requests pending
// for its tasks, in a JSON field "control"
// ({"accepted":1,"control":[{"task_id":"job-1","action":"cancel",...}]}),
// and Task.WaitControl waits for one by long poll. After a cancel the
// task's next Update returns ErrCancelled, and CancelRequested reports
// it; Requested returns the latest request of any action. Nothing else of
// the answer is read but "accepted" and a refusal's details.
package client
