// Package backend opens the bus and the store a process runs on, chosen by
// flags: the embedded bus and DuckDB under a data directory by default,
// Kafka and ClickHouse by name. Every command that touches a store (serve,
// migrate, datagen, querybench) opens it here, so that they agree on where
// the files live and how a backend is named.
package backend

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/ingest/writer"
	"github.com/taskpulse/taskpulse/internal/bus"
	"github.com/taskpulse/taskpulse/internal/bus/embedded"
	"github.com/taskpulse/taskpulse/internal/bus/kafka"
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/internal/store/clickhouse"
	"github.com/taskpulse/taskpulse/internal/store/duckdb"
	"github.com/taskpulse/taskpulse/schema"
)

// Backend names for --bus and --store.
const (
	BusEmbedded     = "embedded"
	BusKafka        = "kafka"
	StoreDuckDB     = "duckdb"
	StoreClickHouse = "clickhouse"
)

// Flags choose the bus and the store, and how long the store keeps each
// signal. Kafka and ClickHouse are chosen by name rather than by the
// presence of their addresses, so that a stray TASKPULSE_KAFKA_BROKERS
// never moves a process to another bus.
type Flags struct {
	Bus        string
	Store      string
	Kafka      kafka.Config
	ClickHouse clickhouse.Config
	Retention  Retention

	// busFlags and storeFlags say which flags were registered: a command
	// that never opens a bus neither offers nor checks its flags.
	busFlags, storeFlags bool
}

// RegisterFlags adds the bus and the store flags, for serve.
func (f *Flags) RegisterFlags(fs *flag.FlagSet) {
	f.RegisterBusFlags(fs)
	f.RegisterStoreFlags(fs)
}

// RegisterBusFlags adds --bus and the Kafka flags.
func (f *Flags) RegisterBusFlags(fs *flag.FlagSet) {
	f.busFlags = true
	fs.StringVar(&f.Bus, "bus", BusEmbedded, "bus: embedded (a log under --data-dir) or kafka")
	f.Kafka.RegisterFlags(fs)
}

// RegisterStoreFlags adds --store, the ClickHouse flags and the
// retention flags.
func (f *Flags) RegisterStoreFlags(fs *flag.FlagSet) {
	f.storeFlags = true
	fs.StringVar(&f.Store, "store", StoreDuckDB, "store: duckdb (a file under --data-dir) or clickhouse")
	f.ClickHouse = clickhouse.DefaultConfig()
	f.ClickHouse.RegisterFlags(fs)
	f.Retention.RegisterFlags(fs)
}

// Validate checks the names and the chosen backends' settings, of the
// flags registered only.
func (f *Flags) Validate() error {
	var errs []error
	if f.busFlags {
		switch f.Bus {
		case BusEmbedded:
		case BusKafka:
			errs = append(errs, f.Kafka.Validate())
		default:
			errs = append(errs, fmt.Errorf("--bus %q: want embedded or kafka", f.Bus))
		}
	}
	if f.storeFlags {
		switch f.Store {
		case StoreDuckDB:
		case StoreClickHouse:
			errs = append(errs, f.ClickHouse.Validate())
		default:
			errs = append(errs, fmt.Errorf("--store %q: want duckdb or clickhouse", f.Store))
		}
		errs = append(errs, f.Retention.Validate())
	}
	return errors.Join(errs...)
}

// Local says whether opening the bus and store the flags name, as far as
// they are needed, puts files under the data directory.
func (f *Flags) Local(needBus, needStore bool) bool {
	return (f.Bus == BusEmbedded && needBus) || (f.Store == StoreDuckDB && needStore)
}

// BusDir is where the embedded bus lives under dataDir.
func BusDir(dataDir string) string { return filepath.Join(dataDir, "bus") }

// StorePath is the DuckDB file under dataDir.
func StorePath(dataDir string) string { return filepath.Join(dataDir, "taskpulse.duckdb") }

// Options say what Open opens and hands the backends.
type Options struct {
	// DataDir holds the embedded bus and the DuckDB file.
	DataDir string
	// Bus and Store say which of the two to open: a process opens only
	// what its services use, so an ingest-only process never connects to
	// ClickHouse.
	Bus, Store bool
	// Topics are created on Kafka when missing.
	Topics []string
	// Logger, when not nil, is the backends' logger.
	Logger *slog.Logger
	// Registerer, when not nil, gets the embedded bus's lag gauge.
	Registerer prometheus.Registerer
	// QueryLog, when not nil, is told every read query the store sends
	// (see duckdb.Options.QueryLog and clickhouse.WithQueryLog).
	QueryLog func(query string, args []any)
	// Direct also opens a connection of its own to the store's database,
	// for running its SQL beside it.
	Direct bool
	// Retain runs retention passes on the store in the background, one at
	// Open and one an hour after, until Close. The process that owns the
	// store's writes sets it: the writer service's. On ClickHouse two
	// writers may both run them; a pass only sets TTLs to the same value
	// or deletes rows already expired, so the second changes nothing.
	Retain bool
}

// Backends are the open bus and store; either is nil when not asked for.
type Backends struct {
	Bus       bus.Bus
	Store     store.Store
	BusName   string
	StoreName string
	// Direct runs SQL on the store's database, when Options.Direct.
	Direct Direct

	duck *duckdb.Store
	ch   *clickhouse.Store

	retention     Retention
	stopRetention context.CancelFunc
	retentionDone <-chan struct{}
}

// Open opens the bus and store f names, as far as o asks for them.
func Open(ctx context.Context, f *Flags, o Options) (*Backends, error) {
	b := &Backends{retention: f.Retention}
	if f.Local(o.Bus, o.Store) {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	if o.Bus {
		if err := b.openBus(ctx, f, o); err != nil {
			return nil, err
		}
	}
	if o.Store {
		if err := b.openStore(ctx, f, o); err != nil {
			b.Close()
			return nil, err
		}
	}
	if o.Store && o.Retain {
		log := o.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		b.startRetention(ctx, log)
	}
	if o.Direct {
		d, err := openDirect(f, o.DataDir)
		if err != nil {
			b.Close()
			return nil, err
		}
		b.Direct = d
	}
	return b, nil
}

func (b *Backends) openBus(ctx context.Context, f *Flags, o Options) error {
	if f.Bus == BusKafka {
		opts := []kafka.Option{kafka.WithTopics(o.Topics...)}
		if o.Logger != nil {
			opts = append([]kafka.Option{kafka.WithLogger(o.Logger)}, opts...)
		}
		kb, err := kafka.Open(ctx, f.Kafka, opts...)
		if err != nil {
			return err
		}
		if o.Registerer != nil {
			o.Registerer.MustRegister(kafka.LagCollector(kb, writer.DefaultGroup, schema.TopicProgress, schema.TopicLogs, schema.TopicMetrics))
		}
		b.Bus, b.BusName = kb, "kafka "+f.Kafka.Brokers[0]
		return nil
	}
	dir := BusDir(o.DataDir)
	eb, err := embedded.Open(dir, embedded.Options{Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("open embedded bus: %w", err)
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "taskpulse_bus_lag_bytes",
			Help:        "Bytes of the embedded bus the writer has not stored yet.",
			ConstLabels: prometheus.Labels{"group": writer.DefaultGroup},
		}, func() float64 { return float64(eb.Lag(writer.DefaultGroup)) }))
	}
	b.Bus, b.BusName = eb, "embedded "+dir
	return nil
}

func (b *Backends) openStore(ctx context.Context, f *Flags, o Options) error {
	var err error
	if f.Store == StoreClickHouse {
		var opts []clickhouse.Option
		if o.Logger != nil {
			opts = append(opts, clickhouse.WithLogger(o.Logger))
		}
		if o.QueryLog != nil {
			opts = append(opts, clickhouse.WithQueryLog(func(q string) { o.QueryLog(q, nil) }))
		}
		b.ch, err = clickhouse.Open(ctx, f.ClickHouse, opts...)
		if err == nil {
			b.Store = b.ch
		}
		b.StoreName = "clickhouse " + f.ClickHouse.Addr[0] + "/" + f.ClickHouse.Database
	} else {
		path := StorePath(o.DataDir)
		b.duck, err = duckdb.Open(path, duckdb.Options{Logger: o.Logger, QueryLog: o.QueryLog})
		if err == nil {
			b.Store = b.duck
		}
		b.StoreName = "duckdb " + path
	}
	if err != nil {
		return fmt.Errorf("open %s store: %w", f.Store, err)
	}
	return nil
}

// Close closes what Open opened: the retention loop first, waiting for a
// pass under way, then the direct connection, the bus and the store.
func (b *Backends) Close() error {
	if b.stopRetention != nil {
		b.stopRetention()
		<-b.retentionDone
	}
	var errs []error
	if b.Direct != nil {
		errs = append(errs, b.Direct.Close())
	}
	if b.Bus != nil {
		errs = append(errs, b.Bus.Close())
	}
	if b.Store != nil {
		errs = append(errs, b.Store.Close())
	}
	return errors.Join(errs...)
}
