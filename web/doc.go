// Package web is the built-in UI and the browser client it is built on:
// plain HTML, CSS and JavaScript modules, embedded in the binary, with
// Apache ECharts vendored in static/vendor (its LICENSE and NOTICE beside
// it) to draw charts.
//
// The live page is served at GET /, the UI's pages at GET /tasks,
// /tasks/{id}, /dashboards, /dashboards/{id} and /alerts, its files at
// GET /web/{file} and the chart library at GET /web/vendor/{file}. Every
// page of the UI is one shell, app.html, whose app.js reads the page from
// the address and draws it from the API (page-*.js), with one stream for
// live updates; nothing from the data is ever inserted as HTML, and the
// Content-Security-Policy allows no inline script or style sheet, nor
// eval. The client, /web/taskpulse.js, is an ES module any page may
// import: it opens /v1/stream over WebSocket, keeps the current state of
// the followed tasks by merging snapshots and live progress by their
// order key, hands logs and notifications to listeners, and after a drop
// reconnects with backoff and subscribes again, so that the new snapshots
// bring it up to date. The live page (live.js) imports it with the
// api_key, user_id and task_id of its own address. The pages and their
// files are public, like /openapi.json; only the API behind them needs a
// key, which the UI takes once from ?api_key= or a form and keeps in the
// tab's sessionStorage.
//
// The UI calls the API on its own origin only. A stream process that does
// not run the query, alerting or task services forwards the routes the
// UI calls to theirs (ProxyRoutes), after its own key, body and Origin
// checks, so that the UI works the same all-in-one and distributed.
package web
