package ratelimit

import (
	"encoding/json"
	"flag"
	"io"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

func TestConfigValidate(t *testing.T) {
	f := func(mutate func(c *Config), wantErr string) {
		t.Helper()
		c := DefaultConfig()
		mutate(&c)
		err := c.Validate()
		if wantErr == "" {
			require.NoError(t, err)
			return
		}
		require.ErrorContains(t, err, wantErr)
	}
	f(func(*Config) {}, "")
	f(func(c *Config) { *c = Config{} }, "")
	f(func(c *Config) { c.AuthFailuresPerMinute = 0 }, "") // the burst alone is ignored
	f(func(c *Config) { c.IngestEventsPerSecond = -1 }, "ingest events rate")
	f(func(c *Config) { c.IngestBytesPerSecond = math.NaN() }, "ingest bytes rate")
	f(func(c *Config) { c.QueriesPerSecond = math.Inf(1) }, "query rate")
	f(func(c *Config) { c.QueriesBurst = -1 }, "query burst")
	f(func(c *Config) { c.MaxKeys = -1 }, "max keys")
}

func TestRegisterFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	require.Equal(t, DefaultConfig(), c)
	require.NoError(t, fs.Parse([]string{"--ingest-events-rate=1000", "--ingest-bytes-burst=5", "--query-rate=20", "--auth-failures-rate=0"}))
	require.Equal(t, 1000.0, c.IngestEventsPerSecond)
	require.Equal(t, 5, c.IngestBytesBurst)
	require.Equal(t, 20.0, c.QueriesPerSecond)
	require.Zero(t, c.AuthFailuresPerMinute)
}

func newLimits(t testing.TB, cfg Config, clk *clock) (*Limits, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	l, err := New(cfg, Deps{Registerer: reg, Now: clk.now})
	require.NoError(t, err)
	return l, reg
}

func TestAllowIngestTakesBothOrNeither(t *testing.T) {
	clk := newClock()
	l, reg := newLimits(t, Config{IngestEventsPerSecond: 10, IngestBytesPerSecond: 1000}, clk)
	f := func(tenant string, events, bytes int, wantOK bool, wantWait time.Duration) {
		t.Helper()
		wait, ok := l.AllowIngest(tenant, events, bytes)
		require.Equal(t, wantOK, ok, "AllowIngest(%s, %d, %d)", tenant, events, bytes)
		require.Equal(t, wantWait, wait)
	}
	f("acme", 5, 900, true, 0)
	f("acme", 5, 200, false, time.Second) // over on bytes: the events are given back
	f("acme", 5, 100, true, 0)
	f("acme", 1, 0, false, time.Second) // over on events
	f("globex", 10, 1000, true, 0)      // tenants are independent
	m := gather(t, reg)
	require.Equal(t, 1.0, m[`taskpulse_ratelimit_rejected_total{limit="ingest_bytes"}`])
	require.Equal(t, 1.0, m[`taskpulse_ratelimit_rejected_total{limit="ingest_events"}`])
	require.Equal(t, 2.0, m[`taskpulse_ratelimit_keys{limit="ingest_events"}`])
	require.Equal(t, 0.0, m[`taskpulse_ratelimit_keys{limit="queries"}`])
	require.Contains(t, m, `taskpulse_ratelimit_overflow_total{limit="auth_failures"}`)
	require.Contains(t, m, `taskpulse_auth_failures_total`)
}

func TestNilAndUnlimitedLimits(t *testing.T) {
	var nilLimits *Limits
	unlimited, _ := newLimits(t, Config{}, newClock())
	for _, l := range []*Limits{nilLimits, unlimited} {
		_, ok := l.AllowIngest("acme", 1<<30, 1<<30)
		require.True(t, ok)
		require.Nil(t, l.AuthGuard())
		app := fiber.New()
		app.Get("/", auth.Keys{}.Middleware(), l.Queries(), func(c *fiber.Ctx) error { return nil })
		for range 100 {
			resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode)
		}
	}
}

// gather reads every sample of reg by name and labels, as name{k="v"}.
func gather(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for i, lp := range m.GetLabel() {
				if i == 0 {
					name += "{"
				} else {
					name += ","
				}
				name += lp.GetName() + `="` + lp.GetValue() + `"`
			}
			if len(m.GetLabel()) > 0 {
				name += "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// errorBody is the JSON error shape.
type errorBody struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

func get(t *testing.T, app *fiber.App, key string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := app.Test(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body errorBody
	if resp.StatusCode >= 400 {
		require.NoError(t, json.Unmarshal(raw, &body), string(raw))
	}
	return resp.StatusCode, resp.Header.Get(fiber.HeaderRetryAfter), body.Error.Code
}

func TestQueriesLimitsEachTenant(t *testing.T) {
	clk := newClock()
	l, reg := newLimits(t, Config{QueriesPerSecond: 0.5, QueriesBurst: 2}, clk)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler})
	keys := auth.Keys{"ka": "acme", "kg": "globex"}
	app.Get("/", keys.Middleware(), l.Queries(), func(c *fiber.Ctx) error { return nil })
	f := func(key string, wantStatus int, wantRetry, wantCode string) {
		t.Helper()
		status, retry, code := get(t, app, key)
		require.Equal(t, wantStatus, status)
		require.Equal(t, wantRetry, retry)
		require.Equal(t, wantCode, code)
	}
	f("ka", 200, "", "")
	f("ka", 200, "", "")
	f("ka", 429, "2", httpx.CodeRateLimited)
	f("kg", 200, "", "")
	clk.advance(2 * time.Second)
	f("ka", 200, "", "")
	require.Equal(t, 1.0, gather(t, reg)[`taskpulse_ratelimit_rejected_total{limit="queries"}`])
}

func TestAuthGuardRefusesAnAddressThatFailsTooOften(t *testing.T) {
	clk := newClock()
	l, reg := newLimits(t, Config{AuthFailuresPerMinute: 6, AuthFailuresBurst: 3}, clk)
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler})
	app.Get("/", auth.Keys{"ka": "acme"}.Middleware(auth.WithGuard(l.AuthGuard())), func(c *fiber.Ctx) error { return nil })
	f := func(key string, wantStatus int, wantRetry, wantCode string) {
		t.Helper()
		status, retry, code := get(t, app, key)
		require.Equal(t, wantStatus, status)
		require.Equal(t, wantRetry, retry)
		require.Equal(t, wantCode, code)
	}
	f("ka", 200, "", "") // a right key costs nothing
	f("wrong", 401, "", httpx.CodeUnauthorized)
	f("", 401, "", httpx.CodeUnauthorized)
	f("wrong", 401, "", httpx.CodeUnauthorized)
	f("wrong", 429, "10", httpx.CodeRateLimited)
	f("ka", 429, "10", httpx.CodeRateLimited) // refused before the key is looked at
	clk.advance(10 * time.Second)
	f("ka", 200, "", "")
	f("wrong", 401, "", httpx.CodeUnauthorized)
	f("wrong", 429, "10", httpx.CodeRateLimited)
	m := gather(t, reg)
	require.Equal(t, 4.0, m["taskpulse_auth_failures_total"])
	require.Equal(t, 3.0, m[`taskpulse_ratelimit_rejected_total{limit="auth_failures"}`])
}
