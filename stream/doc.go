// Package stream pushes task progress, task logs and notifications to
// browsers and other clients over WebSocket, at GET /v1/stream, and
// control requests to the workers that run tasks (control.go): the
// process's control registry calls the service with every change of a
// request, which the hub routes to the workers that follow its task or
// user and, as its control state, to the followers of its task. Progress
// messages and snapshots carry a task's ETA estimate and control state,
// computed once per message (taskstate.go).
//
// # How data moves
//
// Run subscribes to the progress, logs and notifications topics of the bus
// (every stream instance sees every record) and hands each record to a
// hub, which indexes subscriptions by tenant, then by what they select:
// progress by task id, user id or "all", logs by task id, notifications by
// user id or "all". Routing a record thus costs a few map lookups whatever
// the number of unrelated connections, and a record whose tenant header
// (schema.HeaderTenant) names a tenant that follows nothing of its kind —
// for logs, nothing of its task, the record's key — is passed over
// without being decoded. Each record is encoded once and the same bytes
// go to every connection. Each connection has one reader goroutine (client
// messages, pongs) and a bounded queue; a writer goroutine, the only one
// that writes to it, runs only while the queue, a ping or a pong waits, so
// an idle connection costs one goroutine. One timer pings them all.
//
// A slow client never holds up the hub or other clients. When its queue is
// full, progress is coalesced: older events of a task give way to its
// newest, so the client gets fewer, newer updates. Logs are not a state a
// newer one replaces, so they are dropped instead, and the client is told
// how many it missed, per task, where they would have been: before the
// task's next log, or once the writer has caught up (drop and tell). A
// client that cannot keep up even then (its queue full of distinct tasks
// and other messages) is closed with CloseSlowConsumer and should
// reconnect. Peers that stop answering pings for PongWait are closed.
//
// A progress subscription is registered with the hub before its snapshot
// is read from the store; live events it matches are held meanwhile.
// Snapshots are read in rounds, one tenant at a time: subscriptions made
// while a round runs wait for the next, which reads all their tasks in one
// query (one more per user or "all" subscription), so a burst of
// connections costs a few queries and every query still starts after its
// subscriptions were registered. The
// client then gets the snapshot, followed by the held and later events that
// are newer than what it already has of each task, by the order key
// (timestamp, seq, ingest_order, event_id). Each connection thus sees, per
// task, strictly newer states in order, with no gap between the snapshot
// and live events. A task's tombstone (status "deleted") names no user, so
// the hub hands it to every connection of the tenant that follows
// progress, and each sends it only if it was sent the task; its order key
// then stands for the task there, so older events stay stale as they do in
// the store, and a newer one comes through as a new task. Logs and notifications have no snapshot: a subscription
// to them is confirmed with "subscribed", and everything it selects that
// the stream receives after that is sent. A log's history is a search (GET
// /v1/tasks/{id}/logs), and a user's past notifications are in the store.
//
// The bus delivers at least once, so a notification may arrive twice; the
// stream remembers the ids of the last few thousand it pushed and sends
// each at most once to a connection.
//
// A connection only ever receives its own tenant's data: the tenant comes
// from the API key (Authorization, X-API-Key, or ?api_key= for browsers,
// which cannot set headers on a WebSocket) and never from a message. An
// API key names a tenant, not a person, so a connection says whose
// notifications it shows; any key of the tenant may follow any of its
// users.
//
// # Protocol
//
// Every message is one JSON object in a text frame, with a "type". A
// subscribe or unsubscribe message names exactly one subscription.
//
// Progress subscriptions, inline in the message, name exactly one of:
//
//	{"task_id":"t1"}   one task
//	{"user_id":"u1"}   every task of a user
//	{"all":true}       every task of the tenant
//
// A log subscription follows one task's logs at or above a level (DEBUG,
// INFO, WARNING, ERROR, CRITICAL in any case; DEBUG when absent):
//
//	"logs":{"task_id":"t1","min_level":"WARNING"}
//
// A notification subscription names exactly one of:
//
//	"notifications":{"user_id":"u1"}   the notifications of a user
//	"notifications":{"all":true}       every notification of the tenant
//
// All can be given at connect time as query parameters, repeatable and
// combined: task_id, user_id and all=true for progress; logs_task_id,
// with one logs_min_level for all of them; notifications_user_id and
// notifications_all=true. A bad one fails the upgrade with a 400 JSON
// error. The request line and headers fit in 8 KiB (431 beyond), so name
// any more subscriptions in messages. A plain GET without an upgrade gets
// 426 with code "upgrade_required".
//
// Client to server:
//
//	{"type":"subscribe","task_id":"t1"}      (or "user_id":"u1", or "all":true)
//	{"type":"unsubscribe","task_id":"t1"}    (the same subscription as subscribed)
//	{"type":"subscribe","logs":{"task_id":"t1","min_level":"WARNING"}}
//	{"type":"unsubscribe","logs":{"task_id":"t1"}}
//	{"type":"subscribe","notifications":{"user_id":"u1"}}   (or {"all":true})
//	{"type":"unsubscribe","notifications":{"user_id":"u1"}}
//
// Subscribing again to a task's logs changes its min_level.
//
// Server to client:
//
//	{"type":"snapshot","subscription":{"task_id":"t1"},"tasks":[TASK...],"truncated":true}
//	    The current state of the matching tasks, newest first, answering
//	    each progress subscription before any of its live events. TASK has
//	    the shape of GET /v1/tasks/{id} (store.Task). "truncated" is
//	    present, and true, when there were more than Config.SnapshotLimit
//	    tasks.
//	{"type":"progress","event":EVENT}
//	    A live progress event (schema.Progress: task_id, user_id, status,
//	    progress, message, timestamp, seq, ingest_order, event_id, ...). An
//	    event matching several subscriptions of a connection is sent once.
//	{"type":"subscribed","logs":{"task_id":"t1","min_level":"WARNING"}}
//	{"type":"subscribed","notifications":{"user_id":"u1"}}
//	    A log or notification subscription is in place, with its level
//	    as the server spells it.
//	{"type":"log","log":LOG}
//	    A live log of a followed task at or above its level (schema.Log
//	    without the tenant: event_id, timestamp, ingest_order, task_id,
//	    user_id, level, message, source, trace_id, span_id, attributes).
//	{"type":"logs_dropped","task_id":"t1","count":12}
//	    count logs of the task were dropped because the connection fell
//	    behind; the message stands where they would have been.
//	{"type":"notification","notification":NOTIFICATION}
//	    A notification (schema.Notification without the tenant) for a
//	    followed user, or any notification of the tenant for "all"; once
//	    per connection even when both match.
//	{"type":"unsubscribed","subscription":{"task_id":"t1"}}
//	{"type":"unsubscribed","logs":{"task_id":"t1"}}
//	{"type":"unsubscribed","notifications":{"user_id":"u1"}}
//	    The subscription is gone; nothing sent after it is for it alone.
//	{"type":"error","code":"invalid_message","message":"..."}
//	    A message could not be acted on; the connection stays open. Codes:
//	    invalid_json, invalid_message, already_subscribed, not_subscribed,
//	    too_many_subscriptions, snapshot_failed, internal.
//
// Per task, a connection receives strictly newer states, in order. Events
// may be skipped (coalesced) for a slow connection, but the newest state
// always follows. When a connection holds several subscriptions, a
// snapshot of a later one may list a task in an older state than a
// progress event already received through an earlier one (the store
// trails the bus slightly); a client keeping task state should apply an
// update only when its (updated_at or timestamp, seq, ingest_order,
// event_id) is newer than what it holds. Per task, logs arrive in the
// order they were ingested, and while the connection lasts every one is
// either sent or counted in a logs_dropped message. Progress, logs and notifications are read from
// the bus independently, so there is no order between them.
//
// Close codes: 1000 after the client closes, 1001 when the server shuts
// down, 1009 for a client message over 4 KiB, and CloseSlowConsumer (4000)
// for a connection that could not keep up. After any close, reconnect and
// resubscribe: the snapshots bring the client up to date, and the log
// search fills a gap in the logs.
package stream
