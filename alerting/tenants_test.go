package alerting

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/alerting/channel"
	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/schema"
)

const (
	keyA   = "key-of-tenant-a-0001"
	keyB   = "key-of-tenant-b-0001"
	ctJSON = "application/json"
)

func tenantKeys() auth.Keys { return auth.Keys{keyA: "a", keyB: "b"} }

// loopbackAllowed is the test config with 127.0.0.1, where the test
// receivers listen, allowed to tenants' channels.
func (e *env) loopbackAllowed() Config {
	cfg := e.testConfig()
	cfg.ChannelAllow = []string{"127.0.0.1"}
	return cfg
}

// A rule made through the API may name only its tenant's own channels
// and the file's channels shared with its tenant, and is told so in the
// same words whether the name exists elsewhere or not.
func TestAPIRuleMayUseOnlyItsTenantsChannels(t *testing.T) {
	ops := newReceiver(t, nil)
	e := newEnv(t, fmt.Sprintf(`
channels:
  ops: {type: webhook, url: %s, secret: operator-secret}
  shared-b: {type: webhook, url: %s, tenants: [b]}
  shared-all: {type: webhook, url: %s, tenants: ["*"]}
rules:
  - id: operator
    tenant: b
    kind: task_stalled
    params: {stalled_after: 1h}
    channels: [ops]
`, ops.URL, ops.URL, ops.URL))
	e.keys = tenantKeys()
	s := e.startWith(t, e.loopbackAllowed())

	status, body := s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, `{"name":"mine","type":"webhook","url":"`+ops.URL+`"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)

	rule := func(channels string) string {
		return `{"id":"r","kind":"task_failed","channels":` + channels + `}`
	}
	status, body = s.as(t, keyB, "POST", "/v1/alert-rules", ctJSON, rule(`["ops","mine","nowhere","shared-b","shared-all"]`))
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	got := details(t, body)
	require.Len(t, got, 3, "%v", got)
	for i, name := range []string{"ops", "mine", "nowhere"} {
		require.Equal(t, "names no channel this tenant may use: "+name, got[fmt.Sprintf("channels[%d]", i)],
			"an operator's channel, another tenant's and none at all read alike")
	}
	status, body = s.as(t, keyA, "POST", "/v1/alert-rules", ctJSON, rule(`["shared-b"]`))
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	status, body = s.as(t, keyA, "POST", "/v1/alert-rules", ctJSON, rule(`["mine","shared-all"]`))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	status, body = s.as(t, keyB, "POST", "/v1/alert-rules", ctJSON, rule(`["shared-b","shared-all"]`))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	status, body = s.as(t, keyB, "POST", "/v1/alert-rules", ctJSON, `{"id":"dup","kind":"task_failed","channels":["shared-b","shared-b"]}`)
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	require.Contains(t, details(t, body)["channels[1]"], "twice")
}

// A file channel unshared after a rule was made stops delivering that
// tenant's notifications at once; the operator's own rules keep it.
func TestUnsharedFileChannelStopsDelivering(t *testing.T) {
	r := newReceiver(t, nil)
	const file = `
channels:
  ops: {type: webhook, url: %s%s}
rules:
  - id: operator
    tenant: b
    kind: task_failed
    task_type: operated
    channels: [ops]
`
	e := newEnv(t, fmt.Sprintf(file, r.URL, ", tenants: [b]"))
	e.keys = tenantKeys()
	s := e.start(t)
	status, body := s.as(t, keyB, "POST", "/v1/alert-rules", ctJSON, `{"id":"mine","kind":"task_failed","task_type":"own","channels":["ops"]}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)

	e.taskEvent(t, schema.Progress{Tenant: "b", TaskID: "t1", TaskType: "own", Status: schema.StatusFailed})
	s.waitAs(t, keyB, "mine", "t1", schema.DeliverySent)
	require.Len(t, r.requests(), 1)

	e.writeRules(t, fmt.Sprintf(file, r.URL, ""))
	require.NoError(t, s.Reload())
	e.taskEvent(t, schema.Progress{Tenant: "b", TaskID: "t2", TaskType: "own", Status: schema.StatusFailed})
	n := s.waitAs(t, keyB, "mine", "t2", schema.DeliveryGivenUp)
	require.Len(t, n.Deliveries[0].Attempts, 1, "refused at once, not retried")
	require.Contains(t, n.Deliveries[0].Attempts[0].Error, "no channel of that name may be used")

	// The operator's rule of the same tenant still uses its channel.
	e.taskEvent(t, schema.Progress{Tenant: "b", TaskID: "t3", TaskType: "operated", Status: schema.StatusFailed})
	s.waitAs(t, keyB, "operator", "t3", schema.DeliverySent)
	require.Len(t, r.requests(), 2)
}

func TestAlertChannelsAPI(t *testing.T) {
	r := newReceiver(t, nil)
	e := newEnv(t, "")
	e.keys = tenantKeys()
	s := e.startWith(t, e.loopbackAllowed())
	const secret = "a-secret-of-20-bytes"
	hook := `{"name":"ops","type":"webhook","url":"` + r.URL + `/hook/T0KEN?sig=x","secret":"` + secret + `","headers":{"Authorization":"Bearer tok"},"timeout":"5s"}`

	status, body := s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, hook)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	redacted := func(body map[string]any) {
		t.Helper()
		require.Equal(t, "set", body["secret"])
		require.Equal(t, "http://"+strings.TrimPrefix(r.URL, "http://")+"/***", body["url"])
		require.Equal(t, map[string]any{"Authorization": "set"}, body["headers"])
		require.NotContains(t, fmt.Sprint(body), "T0KEN")
		require.NotContains(t, fmt.Sprint(body), secret)
	}
	redacted(body)
	status, body = s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, hook)
	require.Equal(t, http.StatusConflict, status, "%v", body)
	// Names are per tenant.
	status, body = s.as(t, keyB, "POST", "/v1/alert-channels", ctJSON, `{"name":"ops","type":"email","smtp":"127.0.0.1:25","from":"a@example.com","to":["b@example.com"],"password":"pw"}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	require.Equal(t, "set", body["password"])

	status, body = s.as(t, keyA, "GET", "/v1/alert-channels/ops", "", "")
	require.Equal(t, http.StatusOK, status, "%v", body)
	redacted(body)
	require.Equal(t, "webhook", body["type"])
	_, body = s.as(t, keyA, "GET", "/v1/alert-channels", "", "")
	require.Len(t, body["channels"], 1)
	redacted(body["channels"].([]any)[0].(map[string]any))

	// What GET answered, sent back with a change, keeps the secrets.
	status, body = s.as(t, keyA, "GET", "/v1/alert-channels/ops", "", "")
	require.Equal(t, http.StatusOK, status)
	status, body = s.as(t, keyA, "PUT", "/v1/alert-channels/ops", ctJSON, fmt.Sprintf(
		`{"type":"webhook","url":%q,"secret":"set","headers":{"Authorization":"set"},"content_type":"application/json","version":%d}`, body["url"], int64(body["version"].(float64))))
	require.Equal(t, http.StatusOK, status, "%v", body)
	status, body = s.as(t, keyA, "POST", "/v1/alert-rules", ctJSON, `{"id":"failed","kind":"task_failed","channels":["ops"]}`)
	require.Equal(t, http.StatusCreated, status, "%v", body)

	// The channel outlives the process that made it.
	s.stop()
	s = e.startWith(t, e.loopbackAllowed())
	e.taskEvent(t, schema.Progress{Tenant: "a", TaskID: "t1", Status: schema.StatusFailed})
	s.waitAs(t, keyA, "failed", "t1", schema.DeliverySent)
	got := r.requests()[0]
	require.Equal(t, "Bearer tok", got.header.Get("Authorization"))
	require.NoError(t, channel.Verify(secret, got.header.Get(channel.HeaderSignature), got.body, time.Now(), time.Minute))

	// A channel in use cannot go; the answer names the rules.
	status, body = s.as(t, keyA, "DELETE", "/v1/alert-channels/ops", "", "")
	require.Equal(t, http.StatusConflict, status, "%v", body)
	require.Contains(t, fmt.Sprint(body), "failed")
	status, _ = s.as(t, keyA, "DELETE", "/v1/alert-rules/failed", "", "")
	require.Equal(t, http.StatusNoContent, status)
	status, _ = s.as(t, keyA, "DELETE", "/v1/alert-channels/ops", "", "")
	require.Equal(t, http.StatusNoContent, status)
	status, _ = s.as(t, keyA, "GET", "/v1/alert-channels/ops", "", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _ = s.as(t, keyB, "GET", "/v1/alert-channels/ops", "", "")
	require.Equal(t, http.StatusOK, status, "b's channel of the same name stays")

	// Bad channels, each field named.
	status, body = s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, `{"name":"bad name","type":"webhook","url":"ftp://x","secret":"short",`+
		`"template":"{{range 1000000000}}x{{end}}","headers":{"Host":"x","X-Ok":"a\nb"},"smtp":"x:25","timeout":"1h"}`)
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	got2 := details(t, body)
	for _, f := range []string{"name", "url", "secret", "template", "headers.Host", "headers.X-Ok", "smtp", "timeout"} {
		require.Contains(t, got2, f, "%v", got2)
	}
	status, body = s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, `{"name":"m","type":"email","smtp":"127.0.0.1:25","from":"a@example.com\r\nBcc: x@example.com","to":[]}`)
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	require.Contains(t, details(t, body), "from")
	require.Contains(t, details(t, body), "to")
	status, body = s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, `{"name":"m","type":"email","smtp":"127.0.0.1:25","from":"a@example.com","to":["b@example.com"],"tls_ca_file":"/etc/passwd"}`)
	require.Equal(t, http.StatusBadRequest, status, "%v", body)
	require.Contains(t, details(t, body), "tls_ca_file", "a tenant may not make the server read its files")

	// At most maxChannelsPerTenant channels.
	for i := range maxChannelsPerTenant {
		status, body = s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, fmt.Sprintf(`{"name":"c%d","type":"slack","url":"%s"}`, i, r.URL))
		require.Equal(t, http.StatusCreated, status, "%v", body)
	}
	status, body = s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, `{"name":"one-more","type":"slack","url":"`+r.URL+`"}`)
	require.Equal(t, http.StatusConflict, status, "%v", body)
}

// Tenants' channels may not reach internal addresses, by address or by
// name, at creation or (the name resolving elsewhere later) at delivery;
// the operator's allow and deny lists say otherwise.
func TestChannelOutboundPolicy(t *testing.T) {
	r := newReceiver(t, nil)
	port := r.URL[strings.LastIndex(r.URL, ":")+1:]
	var rebound atomic.Bool
	resolve := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "hooks.example":
			if rebound.Load() {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("203.0.113.7")}, nil
		case "hooks.internal":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "localhost":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")}, nil
		}
		return nil, fmt.Errorf("no such host %s", host)
	}
	fresh := func(t *testing.T) *env {
		e := newEnv(t, "")
		e.keys = tenantKeys()
		return e
	}
	post := func(s *service, body string) (int, map[string]string) {
		t.Helper()
		status, answer := s.as(t, keyA, "POST", "/v1/alert-channels", ctJSON, body)
		if status == http.StatusCreated {
			return status, nil
		}
		return status, details(t, answer)
	}
	hook := func(name, url string) string {
		return `{"name":"` + name + `","type":"webhook","url":"` + url + `"}`
	}

	t.Run("default", func(t *testing.T) {
		e := fresh(t)
		s := e.start(t) // the DNS, not the test resolver: localhost is the system's
		// Every kind of internal address is channel's to test; these
		// show the API answering its refusal.
		for i, url := range []string{r.URL, "http://localhost:" + port, "http://169.254.169.254/latest/meta-data"} {
			status, got := post(s, hook(fmt.Sprint("h", i), url))
			require.Equal(t, http.StatusBadRequest, status, url)
			require.Contains(t, got["url"], "which the operator does not allow", url)
			require.NotContains(t, got["url"], url, "the URL is not echoed")
		}
		status, got := post(s, `{"name":"m","type":"email","smtp":"127.0.0.1:25","from":"a@example.com","to":["b@example.com"]}`)
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, got["smtp"], "loopback")
		s.stop()
	})

	t.Run("rebinding", func(t *testing.T) {
		e := fresh(t)
		cfg := e.testConfig()
		cfg.Resolve = resolve
		s := e.startWith(t, cfg)
		status, got := post(s, hook("slack", "https://nowhere.example/services/T/B/SECRET"))
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "cannot be used: the host does not resolve", got["url"])
		status, got = post(s, hook("rebind", "http://hooks.example:"+port+"/x"))
		require.Equal(t, http.StatusCreated, status, "%v", got)
		status, body := s.as(t, keyA, "POST", "/v1/alert-rules", ctJSON, `{"id":"failed","kind":"task_failed","channels":["rebind"]}`)
		require.Equal(t, http.StatusCreated, status, "%v", body)
		rebound.Store(true)
		e.taskEvent(t, schema.Progress{Tenant: "a", TaskID: "t1", Status: schema.StatusFailed})
		n := s.waitAs(t, keyA, "failed", "t1", schema.DeliveryGivenUp)
		require.Len(t, n.Deliveries[0].Attempts, 1, "a refused address is not retried")
		require.Contains(t, n.Deliveries[0].Attempts[0].Error, "loopback")
		require.Empty(t, r.requests(), "nothing reached the loopback receiver")
	})

	t.Run("allow and deny", func(t *testing.T) {
		e := fresh(t)
		cfg := e.testConfig()
		cfg.Resolve = resolve
		cfg.ChannelAllow = []string{"127.0.0.0/8", "hooks.internal"}
		cfg.ChannelDeny = []string{"127.0.0.2", "*.blocked.example"}
		s := e.startWith(t, cfg)
		status, got := post(s, hook("by-ip", r.URL))
		require.Equal(t, http.StatusCreated, status, "%v", got)
		status, got = post(s, hook("by-name", "http://hooks.internal:"+port))
		require.Equal(t, http.StatusCreated, status, "%v", got)
		status, got = post(s, hook("localhost", "http://localhost:"+port))
		require.Equal(t, http.StatusBadRequest, status, "::1 is not allowed")
		require.Contains(t, got["url"], "loopback")
		status, got = post(s, hook("denied", "http://127.0.0.2:"+port))
		require.Equal(t, http.StatusBadRequest, status, "a deny entry wins over an allow entry")
		require.Contains(t, got["url"], "deny list")
		status, got = post(s, hook("denied-name", "http://x.blocked.example/"))
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, got["url"], "deny list")

		status, body := s.as(t, keyA, "POST", "/v1/alert-rules", ctJSON, `{"id":"failed2","kind":"task_failed","channels":["by-ip","by-name"]}`)
		require.Equal(t, http.StatusCreated, status, "%v", body)
		e.taskEvent(t, schema.Progress{Tenant: "a", TaskID: "t2", Status: schema.StatusFailed})
		s.waitAs(t, keyA, "failed2", "t2", schema.DeliverySent)
		require.Len(t, r.requests(), 2)
	})

	e := fresh(t)
	_, err := New(Config{ChannelAllow: []string{"10.0.0.0/33"}}, Deps{Bus: e.bus, Documents: e.store, Tasks: e.store})
	require.ErrorContains(t, err, "10.0.0.0/33")
}
