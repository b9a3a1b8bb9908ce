// Package stream pushes task progress to browsers and other clients over
// WebSocket, at GET /v1/stream.
//
// # How data moves
//
// Run subscribes to the progress topic of the bus (every stream instance
// sees every record) and hands each record to a hub, which indexes
// subscriptions by tenant, then by task id, user id or "all", so routing a
// record costs a few map lookups whatever the number of unrelated
// connections. Each connection has one reader goroutine (client messages,
// pongs) and one writer goroutine (the only one that writes to it), joined
// by a bounded queue. When a queue is full, progress is coalesced: older
// events of a task give way to its newest, so a slow client gets fewer,
// newer updates and never holds up the hub or other clients. A client that
// cannot keep up even then is closed with CloseSlowConsumer and should
// reconnect. Peers that stop answering pings for PongWait are closed.
//
// A subscription is registered with the hub before its snapshot is read
// from the store; live events it matches are held meanwhile. The client
// then gets the snapshot, followed by the held and later events that are
// newer than what it already has of each task, by the order key
// (timestamp, seq, ingest_order, event_id). Each connection thus sees, per
// task, strictly newer states in order, with no gap between the snapshot
// and live events.
//
// A connection only ever receives its own tenant's data: the tenant comes
// from the API key (Authorization, X-API-Key, or ?api_key= for browsers,
// which cannot set headers on a WebSocket) and never from a message.
//
// # Protocol
//
// Every message is one JSON object in a text frame, with a "type".
//
// Subscriptions name exactly one of:
//
//	{"task_id":"t1"}   one task
//	{"user_id":"u1"}   every task of a user
//	{"all":true}       every task of the tenant
//
// They can be given at connect time as query parameters, repeatable and
// combined (/v1/stream?task_id=a&task_id=b&user_id=u&all=true); a bad one
// fails the upgrade with a 400 JSON error. A plain GET without an upgrade
// gets 426 with code "upgrade_required".
//
// Client to server:
//
//	{"type":"subscribe","task_id":"t1"}      (or "user_id":"u1", or "all":true)
//	{"type":"unsubscribe","task_id":"t1"}    (the same subscription as subscribed)
//
// Server to client:
//
//	{"type":"snapshot","subscription":{"task_id":"t1"},"tasks":[TASK...],"truncated":true}
//	    The current state of the matching tasks, newest first, answering
//	    each subscription before any of its live events. TASK has the shape
//	    of GET /v1/tasks/{id} (store.Task). "truncated" is present, and
//	    true, when there were more than Config.SnapshotLimit tasks.
//	{"type":"progress","event":EVENT}
//	    A live progress event (schema.Progress: task_id, user_id, status,
//	    progress, message, timestamp, seq, ingest_order, event_id, ...). An
//	    event matching several subscriptions of a connection is sent once.
//	{"type":"unsubscribed","subscription":{"task_id":"t1"}}
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
// event_id) is newer than what it holds.
//
// Close codes: 1000 after the client closes, 1001 when the server shuts
// down, 1009 for a client message over 4 KiB, and CloseSlowConsumer (4000)
// for a connection that could not keep up. After any close, reconnect and
// resubscribe: the snapshots bring the client up to date.
package stream
