// Package apifuzz tests an HTTP API against its OpenAPI document. It
// makes requests for every documented operation, valid-looking ones and
// hostile ones, and holds each answer to what the document promises: no
// 5xx, only documented statuses and content types, the documented error
// shape, and bodies that parse.
//
// A case flows through it in five steps:
//
//   - Load parses the document and resolves its references;
//   - Document.Operations lists each method and path, deletions last so
//     that the other operations still find what exists;
//   - a Generator makes an operation's cases from the parameter and body
//     schemas and from what the Target says exists on the server;
//   - Run sends a case, as a plain request or a WebSocket upgrade;
//   - Run then checks the answer and returns what is wrong as strings.
//
// The generator also knows what TaskPulse's document cannot say: which
// parameters each chart kind takes, the params of each alert rule kind,
// and that only a WebSocket upgrade of /v1/stream reads its parameters.
//
// Generation is deterministic for a seed and a time, so a failure can be
// replayed; the package never calls testing, leaving failure to the caller.
package apifuzz
