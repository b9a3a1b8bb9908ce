package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// dialTimeout bounds one connection attempt, so an unreachable broker costs
// a Publish a few seconds at most rather than the operating system's minutes.
const dialTimeout = 5 * time.Second

// connection holds what both the writer side (kafka.Transport) and the
// reader side (kafka.Dialer) of kafka-go need to reach the brokers.
type connection struct {
	tls  *tls.Config
	sasl sasl.Mechanism
}

func newConnection(cfg Config) (connection, error) {
	var c connection
	if cfg.TLS.Enable {
		t, err := tlsConfig(cfg.TLS)
		if err != nil {
			return c, err
		}
		c.tls = t
	}
	m, err := saslMechanism(cfg.SASL)
	if err != nil {
		return c, err
	}
	c.sasl = m
	return c, nil
}

func (c connection) transport(clientID string) *kafka.Transport {
	return &kafka.Transport{
		DialTimeout: dialTimeout,
		ClientID:    clientID,
		TLS:         c.tls,
		SASL:        c.sasl,
	}
}

func (c connection) dialer(clientID string) *kafka.Dialer {
	return &kafka.Dialer{
		ClientID:      clientID,
		Timeout:       dialTimeout,
		DualStack:     true,
		TLS:           c.tls,
		SASLMechanism: c.sasl,
	}
}

func tlsConfig(c TLSConfig) (*tls.Config, error) {
	t := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Operators ask for this explicitly, for test clusters with
		// self-signed certificates.
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read Kafka CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cannot use Kafka CA file %s: no PEM certificate in it", c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot load Kafka client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

func saslMechanism(c SASLConfig) (sasl.Mechanism, error) {
	switch c.Mechanism {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: c.Username, Password: c.Password}, nil
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if c.Mechanism == "scram-sha-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, c.Username, c.Password)
		if err != nil {
			return nil, fmt.Errorf("cannot set up Kafka SASL %s: %w", c.Mechanism, err)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("cannot set up Kafka SASL: unknown mechanism %q", c.Mechanism)
	}
}

func compressionCodec(name string) (kafka.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	default:
		return 0, fmt.Errorf("cannot compress Kafka records: unknown codec %q", name)
	}
}
