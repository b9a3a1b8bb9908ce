package app

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/web"
)

func parse(t *testing.T, args ...string) (*Settings, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var s Settings
	s.RegisterFlags(fs)
	return &s, s.Parse(fs, args)
}

// TestUIUpstreams reads the --ui-*-url flags, from the command line or
// the environment, and forwards the UI's calls only for the services a
// process serving the UI does not run itself.
func TestUIUpstreams(t *testing.T) {
	t.Setenv("TASKPULSE_UI_TASKS_URL", "http://tasks:8080")
	urls := []string{"--ui-query-url", "http://query:8080", "--ui-alerting-url", "https://alerting.example.com/"}

	s, err := parse(t, append([]string{"--services", "stream"}, urls...)...)
	require.NoError(t, err)
	require.Equal(t, web.Upstreams{Query: "http://query:8080", Alerting: "https://alerting.example.com/", Tasks: "http://tasks:8080"}, s.uiUpstreams())

	s, err = parse(t, append([]string{"--services", "stream,query,tasks"}, urls...)...)
	require.NoError(t, err)
	require.Equal(t, web.Upstreams{Alerting: "https://alerting.example.com/"}, s.uiUpstreams(), "what the process runs it answers itself")

	s, err = parse(t, append([]string{"--services", "ingest,writer"}, urls...)...)
	require.NoError(t, err)
	require.Equal(t, web.Upstreams{}, s.uiUpstreams(), "a process without the UI forwards nothing")

	s, err = parse(t)
	require.NoError(t, err)
	require.Equal(t, web.Upstreams{}, s.uiUpstreams(), "every service in one process")

	for _, bad := range []string{"query:8080", "ftp://query", "http://"} {
		_, err = parse(t, "--services", "stream", "--ui-query-url", bad)
		require.ErrorContains(t, err, "--ui-query-url", bad)
	}
	t.Setenv("TASKPULSE_UI_TASKS_URL", "tasks")
	_, err = parse(t, "--services", "stream")
	require.ErrorContains(t, err, "--ui-tasks-url")
}
