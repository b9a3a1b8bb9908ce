package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/app"
)

// TestAlertChannelSettings: a tenant's channel may reach loopback only
// when the operator allows it, by flag, environment or config file, and
// a deny entry wins.
func TestAlertChannelSettings(t *testing.T) {
	const hook = `{"name":"ops","type":"webhook","url":"http://127.0.0.1:9/x"}`
	create := func(srv *server) response {
		return srv.do(t, http.MethodPost, "/v1/alert-channels", "", "application/json", hook)
	}
	r := create(startServer(t))
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	require.Contains(t, fmt.Sprint(r.body), "loopback")
	r = create(startServer(t, "--alert-channel-allow", "10.0.0.0/8, 127.0.0.1"))
	require.Equal(t, http.StatusCreated, r.status, r.body)

	t.Setenv("TASKPULSE_ALERT_CHANNEL_ALLOW", "127.0.0.0/8")
	r = create(startServer(t))
	require.Equal(t, http.StatusCreated, r.status, r.body)
	config := filepath.Join(t.TempDir(), "taskpulse.yaml")
	require.NoError(t, os.WriteFile(config, []byte("alert-channel-deny: [127.0.0.1]\n"), 0o600))
	r = create(startServer(t, "--config", config))
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	require.Contains(t, fmt.Sprint(r.body), "deny list")

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var s app.Settings
	s.RegisterFlags(fs)
	require.ErrorContains(t, s.Parse(fs, []string{"--alert-channel-deny", "10.0.0.0/99"}), "--alert-channel-allow, --alert-channel-deny")
}
