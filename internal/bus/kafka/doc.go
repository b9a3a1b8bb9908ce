// Package kafka implements bus.Bus on Apache Kafka with
// github.com/segmentio/kafka-go. It is the bus of the distributed mode:
// ingest Publishes, the writer Consumes in a consumer group, and every
// stream instance Subscribes.
//
// # Publishing
//
// Every Publish goes through one synchronous kafka.Writer shared by the
// process, configured against the kafka-go defaults that would break the
// bus contract:
//
//   - RequiredAcks is RequireAll. A Writer{} literal defaults to no acks at
//     all, which would let ingest acknowledge records the broker never
//     stored. With acks=all, Publish returns only once every in-sync
//     replica has the records; topics this package creates with three or
//     more replicas also get min.insync.replicas=2, unless
//     Config.MinInSyncReplicas sets another value.
//   - BatchTimeout is a few milliseconds (5 ms by default). kafka-go holds
//     a partial batch for BatchTimeout, one second by default, so every
//     synchronous Publish would wait a second. A short timeout instead
//     gives the window in which concurrent Publish calls share one produce
//     request per partition, which is where the throughput comes from.
//   - The Balancer is kafka.Murmur2Balancer, the Java client's partitioner:
//     records with the same key (the task id) land in the same partition,
//     which keeps their order, and in the same partition a Java producer
//     would pick.
//   - A whole Publish, retries included, is bounded by WriteTimeout. When the
//     brokers are unreachable, a partition has too few in-sync replicas or
//     the time runs out, the error wraps bus.ErrUnavailable, so ingest
//     answers 503 with Retry-After instead of hanging.
//
// Headers travel as Kafka record headers, so trace context crosses the bus.
//
// # Topics
//
// Topics are created with the configured partitions and replication factor
// when Open is given WithTopics, and otherwise on the first Publish,
// Consume or Subscribe that names them. The brokers' auto-creation is not
// used: production clusters often disable it, and it would apply the
// brokers' defaults. Config.TopicPrefix goes before every topic and group
// name in the cluster, so deployments and test runs can share one; records
// carry the names without it.
//
// # Consuming
//
// Consume runs a kafka.Reader in the consumer group. It fetches with
// FetchMessage, never ReadMessage, which in a group commits before the
// records are processed and so would lose them on a crash. A batch grows
// until it holds MaxBatch records or MaxWait has passed since its first
// record; the handler gets it, and only when the handler returns nil are
// its offsets committed, synchronously. A failed handler ends Consume with
// the batch uncommitted, so the group's next consumer gets it again.
//
// Subscribe gives each subscriber every record from the moment of the call
// on. It reads each partition with its own reader from the offset the
// partition ended at when Subscribe started, without a consumer group: a
// group per subscriber would need a unique name and would leave an
// abandoned group in the cluster whenever a stream instance restarts. Per
// partition, and so per key, records keep their order.
//
// # Duplicates
//
// kafka-go has no idempotent producer: a Publish that timed out may have
// been stored, and its retry stores the records again. A consumer that
// crashes between handling a batch and committing it gets the batch again.
// Delivery is therefore at least once, and TaskPulse removes duplicates
// downstream by event_id.
package kafka
