// Package store declares where TaskPulse keeps its signals and the contract
// every implementation keeps. Implementations live in subpackages: duckdb
// (embedded, a local file) and clickhouse. Package storetest holds the
// conformance suite both must pass.
//
// The contract is Store, made of one small interface per concern, as
// Prometheus' storage.Storage joins Queryable and Appendable: TaskStore
// (progress in, tasks out), LogStore, MetricStore, StatsStore,
// DashboardStore and DocumentStore, plus Ping and Close. Each part states
// its guarantees (idempotency, ordering, isolation, versioning) beside its
// methods.
//
// The writer is the only caller that inserts progress, logs and metrics;
// the query, stream and alerting services read, and keep dashboards and
// documents. Services declare the few methods they use as small interfaces
// of their own and are handed the one Store, which has them all.
package store
