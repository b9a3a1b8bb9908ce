// Package eta estimates how long a task has left, from the history of
// its task type and from its own progress rate, at the moment it is read.
//
// A Model learns, per tenant and task type (and per current_step where
// tasks report steps), how much time completed runs still needed when
// their progress crossed each tenth of the way (the edges 0 %, 10 %, ...
// 90 %), keeping the newest Window runs per edge. It learns from the
// progress events it is shown one by one (Observe: it follows each running
// task until it completes) and from the timelines of completed tasks read
// from a store (Seed), which fill only the room the events left, so the
// newest runs win. Memory is bounded per tenant: MaxTypes task types,
// MaxSteps steps per type, MaxRunning followed tasks.
//
// Estimate turns a task's current state into what the API shows:
//
//   - with at least MinRuns completed runs of its type, a median and a
//     90th percentile of the time left at the task's progress, from two
//     readings of the history: the time the runs still had there, and the
//     task's own elapsed time times the runs' pace there (time left per
//     time run), each weighed by how tightly the runs agree on it, so the
//     task's own speed counts more where the type's runs keep one shape
//     and as the run advances: Source "history";
//   - else the client's own eta when it sent one ("client"), or the rate
//     from its start to its latest progress report ("rate").
//
// Either way the time left is counted down from the report it was made
// at, so a task that goes quiet runs out of time instead of keeping its
// last figure; once it has run out the estimate says Overdue and gives no
// number. Estimates are pure functions of the model, the task and now.
package eta
