package clickhouse

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	require.NoError(t, fs.Parse([]string{
		"--clickhouse-addr", "ch-1:9000, ch-2:9000",
		"--clickhouse-database", "tp_prod",
		"--clickhouse-username", "writer",
		"--clickhouse-password", "secret",
		"--clickhouse-tls",
		"--clickhouse-dial-timeout", "2s",
		"--clickhouse-cluster", "taskpulse",
	}))
	require.Equal(t, []string{"ch-1:9000", "ch-2:9000"}, cfg.Addr)
	require.Equal(t, "tp_prod", cfg.Database)
	require.Equal(t, "writer", cfg.Username)
	require.Equal(t, "secret", cfg.Password)
	require.True(t, cfg.TLS)
	require.Equal(t, 2*time.Second, cfg.DialTimeout)
	require.Equal(t, "taskpulse", cfg.Cluster)
	require.NoError(t, cfg.Validate())
}

func TestConfigValidate(t *testing.T) {
	f := func(change func(*Config), wantErr string) {
		t.Helper()
		cfg := DefaultConfig()
		change(&cfg)
		err := cfg.Validate()
		if wantErr == "" {
			require.NoError(t, err)
			return
		}
		require.ErrorContains(t, err, wantErr)
	}
	f(func(*Config) {}, "")
	f(func(c *Config) { c.Addr = nil }, "at least one address")
	f(func(c *Config) { c.Addr = []string{"localhost"} }, "not host:port")
	f(func(c *Config) { c.Database = "tp; DROP TABLE x" }, "clickhouse-database")
	f(func(c *Config) { c.Database = "1abc" }, "clickhouse-database")
	f(func(c *Config) { c.Cluster = "taskpulse" }, "")
	f(func(c *Config) { c.Cluster = "x' ON CLUSTER y" }, "clickhouse-cluster")
	f(func(c *Config) { c.DialTimeout = 0 }, "clickhouse-dial-timeout")
	f(func(c *Config) { c.MaxOpenConns = 0 }, "clickhouse-max-open-conns")
}
