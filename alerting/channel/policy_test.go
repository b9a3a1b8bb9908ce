package channel

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// resolver answers from a table, as a DNS would.
func resolver(table map[string][]string) Resolver {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range table[host] {
			out = append(out, netip.MustParseAddr(a))
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no such host %s", host)
		}
		return out, nil
	}
}

func newPolicy(t testing.TB, allow, deny []string, table map[string][]string) *Policy {
	t.Helper()
	p, err := NewPolicy(allow, deny, resolver(table))
	require.NoError(t, err)
	return p
}

// By default a tenant's channel reaches only the internet, by address or
// by name.
func TestPolicyRefusesInternalAddresses(t *testing.T) {
	p := newPolicy(t, nil, nil, map[string][]string{
		"hooks.example":    {"203.0.113.7"},
		"mixed.example":    {"203.0.113.7", "10.0.0.1"},
		"internal.example": {"192.168.1.1"},
	})
	f := func(url, kind string) {
		t.Helper()
		err := p.CheckURL(context.Background(), url)
		if kind == "" {
			require.NoError(t, err, url)
			return
		}
		var re *RefusedError
		require.ErrorAs(t, err, &re, url)
		require.Contains(t, re.Reason, kind, url)
		require.NotContains(t, re.Reason, url, "the URL is not echoed")
	}
	f("https://hooks.example/x", "")
	f("http://203.0.113.7:8080/", "")
	f("http://127.0.0.1:8080/", "loopback")
	f("http://[::1]:8080/", "loopback")
	f("http://[::ffff:127.0.0.1]:8080/", "loopback")
	f("http://169.254.169.254/latest/meta-data", "link-local")
	f("http://10.1.2.3/", "private")
	f("http://internal.example/", "private")
	f("http://mixed.example/", "private") // one refused address refuses the host
	f("http://100.64.0.1/", "shared (CGNAT)")
	f("http://0.0.0.0:8080/", "unspecified")
	f("http://224.0.0.1/", "link-local")
	f("http://239.1.2.3/", "multicast")
	f("http://nowhere.example/", "does not resolve")
	f("ftp://hooks.example/", "http or https")
	f("http:///x", "http or https")

	require.NoError(t, p.CheckHostPort(context.Background(), "hooks.example:25"))
	require.ErrorContains(t, p.CheckHostPort(context.Background(), "127.0.0.1:25"), "loopback")
	require.ErrorContains(t, p.CheckHostPort(context.Background(), "hooks.example"), "host:port")
}

// An allow entry lifts the default for what it names; a deny entry
// refuses what it names, allowed or not.
func TestPolicyAllowAndDeny(t *testing.T) {
	p := newPolicy(t, []string{"127.0.0.0/8", "hooks.internal", "*.corp.example"}, []string{"127.0.0.2", "*.blocked.example", "bad.corp.example"},
		map[string][]string{
			"hooks.internal":    {"127.0.0.1"},
			"a.corp.example":    {"10.0.0.5"},
			"bad.corp.example":  {"10.0.0.6"},
			"x.blocked.example": {"203.0.113.7"},
			"localhost":         {"127.0.0.1", "::1"},
		})
	f := func(url, refusal string) {
		t.Helper()
		err := p.CheckURL(context.Background(), url)
		if refusal == "" {
			require.NoError(t, err, url)
		} else {
			require.ErrorContains(t, err, refusal, url)
		}
	}
	f("http://127.0.0.1:8080/", "")
	f("http://hooks.internal/", "")
	f("http://a.corp.example/", "")
	f("http://localhost/", "loopback") // ::1 is not allowed
	f("http://127.0.0.2/", "deny list")
	f("http://bad.corp.example/", "deny list")
	f("http://x.blocked.example/", "deny list")

	_, err := NewPolicy([]string{"10.0.0.0/33"}, nil, nil)
	require.ErrorContains(t, err, "10.0.0.0/33")
}

// A name checked when the channel was made may resolve elsewhere later;
// every connection is checked on the address it dials.
func TestPolicyChecksEveryDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	table := map[string][]string{"hooks.example": {"203.0.113.7"}, "allowed.example": {"127.0.0.1"}}
	p := newPolicy(t, []string{"allowed.example"}, nil, table)
	require.NoError(t, p.CheckURL(context.Background(), "http://hooks.example:"+port))

	table["hooks.example"] = []string{"127.0.0.1"}
	_, err = p.DialContext(context.Background(), "tcp", "hooks.example:"+port)
	require.ErrorContains(t, err, "loopback")
	s := newSender(t, Config{Type: TypeWebhook, URL: "http://hooks.example:" + port})
	s.(*webhook).client = p.Transport(0).Client
	e := asError(t, s.Send(context.Background(), notification()))
	require.True(t, e.Permanent, "a refused address is not retried")

	conn, err := p.DialContext(context.Background(), "tcp", "allowed.example:"+port)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
}

// The policy's transport follows no redirect, which would lead past the
// URL checked.
func TestPolicyTransportFollowsNoRedirect(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer srv.Close()
	p := newPolicy(t, []string{"127.0.0.1"}, nil, nil)
	client := p.Transport(0).Client
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
}
