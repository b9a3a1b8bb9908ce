// Package tasks is the task API: create, update, complete, fail, cancel,
// pause and resume tasks over HTTP, one at a time or up to MaxBatch in
// one request, and the write routes of the platform's former progress
// module (/api/v1/progress/tasks...), mapped onto the same code.
//
// Every operation becomes one progress event carrying the task's whole
// state after the change, published to the bus like an ingested event:
// durable before the answer, keyed by task so that it keeps its place in
// the task's order, and seen by the writer, the stream and alerting as
// any other. Its event id is the client's (event_id, or a UUIDv5 of the
// tenant, the kind of operation and the Idempotency-Key header) when it
// names one, so a retry is stored once and answered as the first time; a
// UUIDv7 otherwise.
//
// A request flows through apply: every operation is checked on its own
// (fields its kind takes, ids), its task looked up, checked against the
// lifecycle table (lifecycle.go) and the state the operations before it
// left, stamped after the task's latest event, and the events of those
// that pass go onto the bus in one write.
//
// A cancel, pause or resume that a person sends (POST
// /v1/tasks/{id}/cancel, /pause, /resume) on a task a worker holds
// (requestFrom, control.go) changes nothing itself: it becomes a control
// request to the worker, published to the control topic with the
// request's other events and kept in a store document before the 202
// (package internal/control). GET /v1/tasks/{id}/control is the worker's
// long poll for one.
//
// Checks read the current state, and the store lags the bus by the
// writer's batch time, so the service keeps a bounded view (LRU) of the
// states it published itself and merges it with the store's by the task
// order key (read-your-writes within a process). A task neither knows is
// looked for in the store for up to a second before the answer is 404, so
// a create made through another process is found once the writer has
// stored it.
package tasks
