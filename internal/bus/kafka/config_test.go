package kafka

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	f := func(name string, change func(*Config), wantErr string) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			c := Config{Brokers: []string{"127.0.0.1:9092"}}
			change(&c)
			err := c.Validate()
			switch {
			case wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, wantErr)
			}
		})
	}
	f("defaults", func(*Config) {}, "")
	f("no brokers", func(c *Config) { c.Brokers = nil }, "none given")
	f("broker without port", func(c *Config) { c.Brokers = []string{"localhost"} }, "want host:port")
	f("negative partitions", func(c *Config) { c.Partitions = -1 }, "partitions")
	f("negative min in-sync replicas", func(c *Config) { c.MinInSyncReplicas = -1 }, "min in-sync replicas")
	f("min in-sync replicas above the default replication", func(c *Config) { c.MinInSyncReplicas = 2 }, "replication factor 1")
	f("min in-sync replicas above the replication", func(c *Config) { c.ReplicationFactor, c.MinInSyncReplicas = 3, 4 }, "replication factor 3")
	f("min in-sync replicas at the replication", func(c *Config) { c.ReplicationFactor, c.MinInSyncReplicas = 3, 3 }, "")
	f("unknown compression", func(c *Config) { c.Compression = "brotli" }, "compression")
	f("every compression", func(c *Config) {
		for _, name := range compressions {
			c.Compression = name
			if err := c.Validate(); err != nil {
				t.Errorf("compression %s: %v", name, err)
			}
		}
	}, "")
	f("TLS files without TLS", func(c *Config) { c.TLS.CAFile = "ca.pem" }, "not enabled")
	f("cert without key", func(c *Config) { c.TLS = TLSConfig{Enable: true, CertFile: "c.pem"} }, "together")
	f("unknown SASL", func(c *Config) { c.SASL = SASLConfig{Mechanism: "gssapi", Username: "u"} }, "SASL mechanism")
	f("SASL without user", func(c *Config) { c.SASL = SASLConfig{Mechanism: "plain"} }, "user name")
	f("SASL scram", func(c *Config) { c.SASL = SASLConfig{Mechanism: "scram-sha-512", Username: "u", Password: "p"} }, "")
	f("credentials without SASL", func(c *Config) { c.SASL.Password = "p" }, "no mechanism")
}

func TestRegisterFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	err := fs.Parse([]string{
		"--kafka-brokers", "a:9092, b:9092",
		"--kafka-partitions", "12",
		"--kafka-replication-factor", "3",
		"--kafka-min-insync-replicas", "2",
		"--kafka-compression", "zstd",
		"--kafka-batch-timeout", "2ms",
		"--kafka-tls",
		"--kafka-sasl-mechanism", "scram-sha-256",
		"--kafka-sasl-username", "ingest",
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !slices.Equal(c.Brokers, []string{"a:9092", "b:9092"}) || c.Partitions != 12 || c.ReplicationFactor != 3 || c.MinInSyncReplicas != 2 || c.Compression != "zstd" ||
		c.BatchTimeout != 2*time.Millisecond || !c.TLS.Enable || c.SASL.Mechanism != "scram-sha-256" || c.SASL.Username != "ingest" {
		t.Fatalf("parsed %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
