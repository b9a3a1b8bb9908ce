// Package apidoc serves the OpenAPI 3.0 document of TaskPulse's whole HTTP
// API at GET /openapi.json. The document is hand-written JSON embedded at
// build time; a test in cmd/taskpulse fails when a route the server
// mounts is missing from it, so it cannot drift far from the code.
package apidoc
