// Package web is the built-in live page and the browser client it is
// built on: plain HTML, CSS and JavaScript modules, embedded in the binary.
//
// The page is served at GET / and its files at GET /web/{file}. The client,
// /web/taskpulse.js, is an ES module any page may import: it opens
// /v1/stream over WebSocket, keeps the current state of the followed tasks
// by merging snapshots and live progress by their order key, hands logs
// and notifications to listeners, and after a drop reconnects with backoff
// and subscribes again, so that the new snapshots bring it up to date. The
// live page (live.js) imports it with the api_key, user_id and task_id of
// its own address, renders one row per task, the logs of the task the user
// picks and the notifications as they arrive, and shows whether it is
// live, reconnecting or offline. The page and its files are public, like
// /openapi.json; only the stream behind them needs a key.
package web
