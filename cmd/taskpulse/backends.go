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
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/internal/telemetry"
)

// backendFlags choose the bus and store: embedded ones under --data-dir
// unless Kafka brokers and a ClickHouse address are given.
type backendFlags struct{}

func (b *backendFlags) register(fs *flag.FlagSet) {}

// backends are the bus and store a process runs on.
type backends struct {
	bus       bus.Bus
	store     store.Store
	busName   string
	storeName string
	checks    map[string]telemetry.Check
}

func openBackends(ctx context.Context, s *settings, b *backendFlags, reg prometheus.Registerer, log *slog.Logger) (*backends, error) {
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	eb, err := embedded.Open(s.busDir(), embedded.Options{})
	if err != nil {
		return nil, fmt.Errorf("open embedded bus: %w", err)
	}
	st, err := duckdb.Open(s.storePath(), duckdb.Options{})
	if err != nil {
		eb.Close()
		return nil, fmt.Errorf("open DuckDB store: %w", err)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "taskpulse_bus_lag_bytes",
		Help:        "Bytes of the embedded bus the writer has not stored yet.",
		ConstLabels: prometheus.Labels{"group": ingest.DefaultWriterGroup},
	}, func() float64 { return float64(eb.Lag(ingest.DefaultWriterGroup)) }))
	be := &backends{
		bus:       eb,
		store:     st,
		busName:   "embedded " + s.busDir(),
		storeName: "duckdb " + s.storePath(),
		checks:    map[string]telemetry.Check{"store": st.Ping},
	}
	return be, nil
}

func (be *backends) close(log *slog.Logger) {
	if err := errors.Join(be.bus.Close(), be.store.Close()); err != nil {
		log.Error("close backends", "err", err)
	}
}
