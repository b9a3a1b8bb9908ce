// Package otlp reads OTLP/HTTP exports of logs and metrics, in protobuf
// or in OTLP's JSON mapping, and maps them to schema.Log and
// schema.Metric.
//
// Logs and Metrics unmarshal a body, map every record or data point in
// order (attributes of resource, scope and record flattened into one
// string map; metrics the way Prometheus' OTLP receiver stores them,
// through ingest/internal/samples), and validate the result as JSON items
// are validated, each problem naming its place in the export. Unknown
// JSON keys are ignored, as the specification asks of receivers, but a
// key that is an OTLP field's name in another case is refused as
// misspelt (KeyError). The package has no HTTP in it: the ingest handlers
// pick the encoding with Encoding, answer and publish.
//
// Bodies are decoded into LogsData and MetricsData rather than the
// collector package's request types. Both pairs are the same message on
// the wire and in JSON (one repeated field, number 1, resourceLogs /
// resourceMetrics), and the collector package would link gRPC and its
// gateway into the binary for two structs.
package otlp
