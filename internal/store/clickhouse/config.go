package clickhouse

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Config says which ClickHouse server to use and how to reach it.
type Config struct {
	Addr         []string // host:port of the native protocol; several for failover
	Database     string   // created by Open when missing
	Username     string
	Password     string
	TLS          bool
	DialTimeout  time.Duration
	ReadTimeout  time.Duration // bounds every read of a query's result
	MaxOpenConns int
	// Cluster names a cluster of the servers' remote_servers. When set,
	// Migrate makes every table replicated within its shard on every node
	// and the store reads and writes through Distributed tables over them.
	Cluster string
}

// databaseName is what Validate accepts as a database or cluster name. DDL
// cannot take the name as a query parameter, so it is checked instead of
// quoted.
var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// DefaultConfig returns the configuration of a server on the local machine,
// as deploy/clickhouse.sh starts it.
func DefaultConfig() Config {
	return Config{
		Addr:         []string{"127.0.0.1:9000"},
		Database:     "taskpulse",
		Username:     "default",
		DialTimeout:  5 * time.Second,
		ReadTimeout:  60 * time.Second,
		MaxOpenConns: 16,
	}
}

// RegisterFlags registers the configuration's flags on fs, each prefixed
// "clickhouse-", with the current values of c as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("clickhouse-addr", "comma-separated host:port list of ClickHouse native endpoints (default "+strings.Join(c.Addr, ",")+")", func(s string) error {
		c.Addr = splitAddrs(s)
		return nil
	})
	fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database, created when missing")
	fs.StringVar(&c.Username, "clickhouse-username", c.Username, "ClickHouse user")
	fs.StringVar(&c.Password, "clickhouse-password", c.Password, "ClickHouse password")
	fs.BoolVar(&c.TLS, "clickhouse-tls", c.TLS, "connect to ClickHouse over TLS")
	fs.DurationVar(&c.DialTimeout, "clickhouse-dial-timeout", c.DialTimeout, "timeout for connecting to ClickHouse")
	fs.DurationVar(&c.ReadTimeout, "clickhouse-read-timeout", c.ReadTimeout, "timeout for reading a ClickHouse query result")
	fs.IntVar(&c.MaxOpenConns, "clickhouse-max-open-conns", c.MaxOpenConns, "maximum open connections to ClickHouse")
	fs.StringVar(&c.Cluster, "clickhouse-cluster", c.Cluster, "ClickHouse cluster (remote_servers) to replicate and shard the tables over; empty for a single server")
}

func splitAddrs(s string) []string {
	var addrs []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Addr) == 0 {
		errs = append(errs, errors.New("clickhouse-addr: at least one address is required"))
	}
	for _, a := range c.Addr {
		if i := strings.LastIndexByte(a, ':'); i <= 0 || i == len(a)-1 {
			errs = append(errs, fmt.Errorf("clickhouse-addr: %q is not host:port", a))
		}
	}
	if !databaseName.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse-database: %q must be letters, digits and underscores, not starting with a digit", c.Database))
	}
	if c.Cluster != "" && !databaseName.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse-cluster: %q must be letters, digits and underscores, not starting with a digit", c.Cluster))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, errors.New("clickhouse-dial-timeout: must be positive"))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, errors.New("clickhouse-read-timeout: must be positive"))
	}
	if c.MaxOpenConns <= 0 {
		errs = append(errs, errors.New("clickhouse-max-open-conns: must be positive"))
	}
	return errors.Join(errs...)
}
