// Package control keeps the control requests of running tasks: a person
// asks, through the task API, that the worker running a task cancel,
// pause or resume it, and the worker acknowledges by reporting the status
// asked for (cancelled, paused, running) through any ingest path.
//
// A request is durable twice before the task API answers 202: as a record
// on the bus topic TopicControl, which every process that needs it
// follows (ingest, to carry it in the answer to the worker's next report;
// the task API, for its long poll; the stream, for its subscriptions;
// query and alerting, to show it on the task and alert on it), and as a
// store document of kind DocumentKind, one per task, which a process
// reads when it starts. The bus tells the processes that run now; the
// document tells those that start later and keeps the acknowledgement.
// A task holds at most one request, its latest.
//
// Each process keeps the requests in a Registry. It follows the progress
// topic too: an event of the task with the status the request asks for
// acknowledges it, and one with a terminal status ends it. Versions order
// the states of a request (asked, acknowledged, ended), so that records
// and documents applied twice or out of order converge, and every process
// with a store records an acknowledgement under the same version and the
// same time (the event's), so that their puts are one.
//
// Ingest asks the registry on every progress request, so the check costs
// one atomic load while no request waits anywhere.
package control
