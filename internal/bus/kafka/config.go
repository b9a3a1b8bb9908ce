package kafka

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Config says how to reach the Kafka cluster and how to write to it. Zero
// values of the numeric and duration fields take the defaults below, so a
// Config with only Brokers set is complete.
type Config struct {
	// Brokers are the bootstrap addresses, host:port each.
	Brokers []string
	// Partitions, ReplicationFactor and MinInSyncReplicas apply to the
	// topics this bus creates; existing topics keep what they have.
	Partitions        int
	ReplicationFactor int
	// MinInSyncReplicas is how many replicas must hold a record before a
	// Publish returns. Zero means two on topics of three or more replicas
	// and the brokers' default otherwise.
	MinInSyncReplicas int
	// Compression is one of none, gzip, snappy, lz4, zstd.
	Compression string
	// BatchTimeout is how long a partial batch waits for more records
	// before it is sent. It is the floor of every Publish's latency, and
	// the window in which concurrent Publish calls share one request.
	BatchTimeout time.Duration
	// BatchSize caps the records of one partition sent in one request.
	BatchSize int
	// WriteTimeout bounds a whole Publish, retries included.
	WriteTimeout time.Duration
	// ClientID names this process in the brokers' logs and quotas.
	ClientID string
	// TopicPrefix goes before every topic and consumer group name in the
	// cluster, so several deployments or test runs can share one cluster
	// without seeing each other's records. Records carry the name without
	// it.
	TopicPrefix string
	TLS         TLSConfig
	SASL        SASLConfig
}

// TLSConfig enables TLS to the brokers. The files are PEM.
type TLSConfig struct {
	Enable             bool
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool
}

// SASLConfig enables SASL authentication. Mechanism is empty (none),
// plain, scram-sha-256 or scram-sha-512.
type SASLConfig struct {
	Mechanism string
	Username  string
	Password  string
}

// Defaults used for zero fields of Config.
const (
	DefaultPartitions        = 6
	DefaultReplicationFactor = 1
	DefaultCompression       = "lz4"
	DefaultBatchTimeout      = 5 * time.Millisecond
	DefaultBatchSize         = 1000
	DefaultWriteTimeout      = 10 * time.Second
	DefaultClientID          = "taskpulse"
)

var compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// legalNameChars are the characters Kafka allows in topic names.
const legalNameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

var saslMechanisms = []string{"plain", "scram-sha-256", "scram-sha-512"}

// RegisterFlags registers the fields of c on fs, with defaults, under names
// prefixed "kafka-".
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	if c.Brokers == nil {
		c.Brokers = []string{"127.0.0.1:9092"}
	}
	fs.Var((*brokerList)(&c.Brokers), "kafka-brokers", "Kafka bootstrap brokers, comma separated host:port")
	fs.IntVar(&c.Partitions, "kafka-partitions", DefaultPartitions, "partitions of the topics TaskPulse creates")
	fs.IntVar(&c.ReplicationFactor, "kafka-replication-factor", DefaultReplicationFactor, "replication factor of the topics TaskPulse creates")
	fs.IntVar(&c.MinInSyncReplicas, "kafka-min-insync-replicas", 0, "min.insync.replicas of the topics TaskPulse creates (default: 2 with 3 or more replicas, else the brokers' default)")
	fs.StringVar(&c.Compression, "kafka-compression", DefaultCompression, "record compression: "+strings.Join(compressions, ", "))
	fs.DurationVar(&c.BatchTimeout, "kafka-batch-timeout", DefaultBatchTimeout, "how long a partial batch waits for more records before it is sent")
	fs.IntVar(&c.BatchSize, "kafka-batch-size", DefaultBatchSize, "records of one partition sent in one request at most")
	fs.DurationVar(&c.WriteTimeout, "kafka-write-timeout", DefaultWriteTimeout, "how long one publish may take, retries included")
	fs.StringVar(&c.ClientID, "kafka-client-id", DefaultClientID, "client id sent to the brokers")
	fs.StringVar(&c.TopicPrefix, "kafka-topic-prefix", "", "prefix of every topic and consumer group name, to share a cluster")
	fs.BoolVar(&c.TLS.Enable, "kafka-tls", false, "connect to the brokers over TLS")
	fs.StringVar(&c.TLS.CAFile, "kafka-tls-ca-file", "", "PEM file of the CAs that sign the brokers' certificates (default: system roots)")
	fs.StringVar(&c.TLS.CertFile, "kafka-tls-cert-file", "", "PEM client certificate, for brokers that require one")
	fs.StringVar(&c.TLS.KeyFile, "kafka-tls-key-file", "", "PEM key of the client certificate")
	fs.BoolVar(&c.TLS.InsecureSkipVerify, "kafka-tls-insecure-skip-verify", false, "accept any broker certificate (testing only)")
	fs.StringVar(&c.SASL.Mechanism, "kafka-sasl-mechanism", "", "SASL mechanism: "+strings.Join(saslMechanisms, ", ")+" (default: no SASL)")
	fs.StringVar(&c.SASL.Username, "kafka-sasl-username", "", "SASL user name")
	fs.StringVar(&c.SASL.Password, "kafka-sasl-password", "", "SASL password")
}

// Validate reports every invalid field of c at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka brokers: none given"))
	}
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("kafka broker %q: want host:port", b))
		}
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("kafka partitions %d: must not be negative", c.Partitions))
	}
	if c.ReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("kafka replication factor %d: must not be negative", c.ReplicationFactor))
	}
	// More than the replicas would refuse every write, and Kafka does not
	// check it when it creates the topic.
	if rf := c.withDefaults().ReplicationFactor; c.MinInSyncReplicas < 0 || c.MinInSyncReplicas > rf {
		errs = append(errs, fmt.Errorf("kafka min in-sync replicas %d: want 0 (default) to the replication factor %d", c.MinInSyncReplicas, rf))
	}
	if c.Compression != "" && !slices.Contains(compressions, c.Compression) {
		errs = append(errs, fmt.Errorf("kafka compression %q: want one of %s", c.Compression, strings.Join(compressions, ", ")))
	}
	if c.BatchTimeout < 0 {
		errs = append(errs, fmt.Errorf("kafka batch timeout %s: must not be negative", c.BatchTimeout))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("kafka batch size %d: must not be negative", c.BatchSize))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("kafka write timeout %s: must not be negative", c.WriteTimeout))
	}
	if strings.Trim(c.TopicPrefix, legalNameChars) != "" {
		errs = append(errs, fmt.Errorf("kafka topic prefix %q: want letters, digits, '.', '_' and '-' only", c.TopicPrefix))
	}
	if !c.TLS.Enable && (c.TLS.CAFile != "" || c.TLS.CertFile != "" || c.TLS.KeyFile != "" || c.TLS.InsecureSkipVerify) {
		errs = append(errs, errors.New("kafka TLS options given but TLS is not enabled"))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("kafka TLS client certificate and key must be given together"))
	}
	if c.SASL.Mechanism != "" {
		if !slices.Contains(saslMechanisms, c.SASL.Mechanism) {
			errs = append(errs, fmt.Errorf("kafka SASL mechanism %q: want one of %s", c.SASL.Mechanism, strings.Join(saslMechanisms, ", ")))
		}
		if c.SASL.Username == "" {
			errs = append(errs, errors.New("kafka SASL user name: none given"))
		}
	} else if c.SASL.Username != "" || c.SASL.Password != "" {
		errs = append(errs, errors.New("kafka SASL credentials given but no mechanism"))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero fields filled in.
func (c Config) withDefaults() Config {
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = DefaultReplicationFactor
	}
	if c.Compression == "" {
		c.Compression = DefaultCompression
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	return c
}

// brokerList is a flag.Value for a comma separated list of brokers.
type brokerList []string

func (l *brokerList) String() string { return strings.Join(*l, ",") }

func (l *brokerList) Set(s string) error {
	*l = nil
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			*l = append(*l, b)
		}
	}
	return nil
}
