package main

import (
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPprofOnItsOwnListener checks that --pprof-addr serves the Go
// profiles on that address and that the API's port never serves them.
func TestPprofOnItsOwnListener(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	srv := startServer(t, "--pprof-addr", addr)

	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	status, body := get("http://" + addr + "/debug/pprof/")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "goroutine")
	status, body = get("http://" + addr + "/debug/pprof/heap?debug=1")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "heap profile")

	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		status, body = get(srv.base + path)
		require.Equal(t, http.StatusNotFound, status, "%s on the API port: %s", path, body)
		require.NotContains(t, body, "goroutine")
	}

	// Stopping the server closes the profiles' listener too.
	srv.stop()
	_, err := http.Get("http://" + addr + "/debug/pprof/")
	require.Error(t, err)
}

// TestPprofOffByDefault checks that a server started without --pprof-addr
// serves no profiles on its API port.
func TestPprofOffByDefault(t *testing.T) {
	srv := startServer(t)
	resp, err := http.Get(srv.base + "/debug/pprof/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
