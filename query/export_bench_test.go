package query_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/query"
	"github.com/taskpulse/taskpulse/schema"
)

// BenchmarkExportLogs exports 200,000 records with attributes as CSV
// over HTTP and reports rows/s.
func BenchmarkExportLogs(b *testing.B) {
	st := openStore(b)
	const rows = 200_000
	for start := 0; start < rows; start += 20_000 {
		batch := make([]schema.Log, 0, 20_000)
		for i := start; i < start+20_000; i++ {
			batch = append(batch, schema.Log{
				Timestamp: t0 - int64(i)*50, Level: schema.LevelInfo, TaskID: fmt.Sprintf("job-%d", i/40), Source: "worker",
				Message: fmt.Sprintf("fetched page %d of the docs in %d ms", i, i%977), Attributes: map[string]string{"site": "go.dev", "worker": "worker-3"},
			})
		}
		insertLogs(b, st, batch...)
	}
	a := startAPI(b, query.Deps{Store: st})
	b.ResetTimer()
	for b.Loop() {
		resp, err := a.client.Get(a.base + "/v1/export?what=logs&format=csv")
		require.NoError(b, err)
		require.Equal(b, http.StatusOK, resp.StatusCode)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(b, err)
		resp.Body.Close()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
