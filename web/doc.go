// Package web is the built-in live page: a plain HTML, CSS and JavaScript
// page, embedded in the binary, that follows a tenant's tasks in a browser.
//
// The page is served at GET / and its files at GET /web/{file}. It holds no
// data of its own: it opens /v1/stream over WebSocket with the api_key,
// user_id and task_id of its own address, renders the snapshot and then
// every progress message as one row per task, follows the logs of the task
// the user picks and lists notifications as they arrive. When the
// connection drops it reconnects with backoff and subscribes again, and the
// new snapshots bring it up to date. The page and its files are public,
// like /openapi.json; only the stream behind them needs a key.
package web
