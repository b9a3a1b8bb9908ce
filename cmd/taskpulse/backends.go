package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/ingest"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/bus/kafka"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/internal/telemetry"
	"github.com/taskpulse/taskpulse/schema"
)

// Backend names for --bus and --store.
const (
	busEmbedded     = "embedded"
	busKafka        = "kafka"
	storeDuckDB     = "duckdb"
	storeClickHouse = "clickhouse"
)

// backendFlags choose the bus and the store. The embedded ones, under
// --data-dir, are the default; Kafka and ClickHouse are chosen by name
// rather than by the presence of their addresses, so that a stray
// TASKPULSE_KAFKA_BROKERS never moves a process to another bus.
type backendFlags struct {
	bus        string
	store      string
	kafka      kafka.Config
	clickhouse clickhouse.Config
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.bus, "bus", busEmbedded, "bus: embedded (a log under --data-dir) or kafka")
	fs.StringVar(&b.store, "store", storeDuckDB, "store: duckdb (a file under --data-dir) or clickhouse")
	b.kafka.RegisterFlags(fs)
	b.clickhouse = clickhouse.DefaultConfig()
	b.clickhouse.RegisterFlags(fs)
}

func (b *backendFlags) validate() error {
	var errs []error
	switch b.bus {
	case busEmbedded:
	case busKafka:
		errs = append(errs, b.kafka.Validate())
	default:
		errs = append(errs, fmt.Errorf("--bus %q: want embedded or kafka", b.bus))
	}
	switch b.store {
	case storeDuckDB:
	case storeClickHouse:
		errs = append(errs, b.clickhouse.Validate())
	default:
		errs = append(errs, fmt.Errorf("--store %q: want duckdb or clickhouse", b.store))
	}
	return errors.Join(errs...)
}

// backends are the bus and store a process runs on. Each is opened only
// when a service of the process needs it, so an ingest-only process never
// connects to ClickHouse.
type backends struct {
	bus       bus.Bus
	store     store.Store
	busName   string
	storeName string
	checks    map[string]telemetry.Check
}

func openBackends(ctx context.Context, s *settings, b *backendFlags, reg prometheus.Registerer, log *slog.Logger) (*backends, error) {
	be := &backends{checks: map[string]telemetry.Check{}}
	needBus := s.runs(svcIngest) || s.runs(svcWriter) || s.runs(svcStream) || s.runs(svcAlerting)
	needStore := s.runs(svcWriter) || s.runs(svcQuery) || s.runs(svcStream) || s.runs(svcAlerting)
	if (b.bus == busEmbedded && needBus) || (b.store == storeDuckDB && needStore) {
		if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		if len(s.services) < len(allServices) {
			log.Warn("running some services on an embedded bus or store: no other process can share them")
		}
	}
	if needBus {
		if err := be.openBus(ctx, s, b, reg, log); err != nil {
			return nil, err
		}
	}
	if needStore {
		if err := be.openStore(ctx, s, b, log); err != nil {
			be.close(log)
			return nil, err
		}
	}
	return be, nil
}

func (be *backends) openBus(ctx context.Context, s *settings, b *backendFlags, reg prometheus.Registerer, log *slog.Logger) error {
	if b.bus == busKafka {
		kb, err := kafka.Open(ctx, b.kafka, kafka.WithLogger(log), kafka.WithTopics(schema.TopicProgress, schema.TopicLogs, schema.TopicMetrics, schema.TopicNotifications, schema.TopicDeadLetter))
		if err != nil {
			return err
		}
		be.bus, be.busName = kb, "kafka "+b.kafka.Brokers[0]
		return nil
	}
	eb, err := embedded.Open(s.busDir(), embedded.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("open embedded bus: %w", err)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "taskpulse_bus_lag_bytes",
		Help:        "Bytes of the embedded bus the writer has not stored yet.",
		ConstLabels: prometheus.Labels{"group": ingest.DefaultWriterGroup},
	}, func() float64 { return float64(eb.Lag(ingest.DefaultWriterGroup)) }))
	be.bus, be.busName = eb, "embedded "+s.busDir()
	return nil
}

func (be *backends) openStore(ctx context.Context, s *settings, b *backendFlags, log *slog.Logger) error {
	var st store.Store
	var err error
	if b.store == storeClickHouse {
		st, err = clickhouse.Open(ctx, b.clickhouse, clickhouse.WithLogger(log))
		be.storeName = "clickhouse " + b.clickhouse.Addr[0] + "/" + b.clickhouse.Database
	} else {
		st, err = duckdb.Open(s.storePath(), duckdb.Options{Logger: log})
		be.storeName = "duckdb " + s.storePath()
	}
	if err != nil {
		return fmt.Errorf("open %s store: %w", b.store, err)
	}
	be.store = st
	be.checks["store"] = st.Ping
	return nil
}

func (be *backends) close(log *slog.Logger) {
	var errs []error
	if be.bus != nil {
		errs = append(errs, be.bus.Close())
	}
	if be.store != nil {
		errs = append(errs, be.store.Close())
	}
	if err := errors.Join(errs...); err != nil {
		log.Error("close backends", "err", err)
	}
}
