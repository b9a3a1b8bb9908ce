package otlp

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFirstKeyIs(t *testing.T) {
	f := func(body string, want bool) {
		t.Helper()
		require.Equal(t, want, FirstKeyIs([]byte(body), LogsKey), "%q", body)
	}
	f(`{"resourceLogs":[]}`, true)
	f(" \t\r\n{ \n\"resourceLogs\" : [", true)
	f(`{"resourceLogs"`, true)
	f(`{"resourceLogs":`+"\xff", true) // the rest is the decoder's to refuse
	f(``, false)
	f(`{}`, false)
	f(`[{"resourceLogs":[]}]`, false)
	f(`{"resourceLog":[]}`, false)
	f(`{"resourceLogsX":[]}`, false)
	f(`{"ResourceLogs":[]}`, false)
	f(`{"\u0072esourceLogs":[]}`, false)
	f(`{"level":"INFO","resourceLogs":[]}`, false)
	f(`{resourceLogs:[]}`, false)
	f(`{"resourceLogs`, false)
	f("\v{\"resourceLogs\":[]}", false) // not JSON whitespace
	require.True(t, FirstKeyIs([]byte(`{"resourceMetrics":[]}`), MetricsKey))
	require.False(t, FirstKeyIs([]byte(`{"resourceMetrics":[]}`), LogsKey))
}
