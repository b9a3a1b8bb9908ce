package ingest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/ingest/internal/ingesttest"
	"github.com/taskpulse/taskpulse/schema"
)

func TestDecodeLogs(t *testing.T) {
	f := func(format, body string, wantItems int, want ...schema.FieldError) {
		t.Helper()
		logs, problems, err := decodeLogs(format, []byte(body), ingesttest.Now)
		require.NoError(t, err, body)
		require.Len(t, logs, wantItems, body)
		require.Len(t, problems, len(want), "%s: %v", body, problems)
		for i, w := range want {
			require.Equal(t, w.Index, problems[i].Index, body)
			require.Equal(t, w.Field, problems[i].Field, body)
			require.Contains(t, problems[i].Reason, w.Reason, body)
		}
	}
	ok := `{"level":"INFO","message":"m"}`
	f(formatJSON, ok, 1)
	f(formatJSON, " ["+ok+","+ok+"] ", 2)
	f(formatNDJSON, ok+"\n\n"+ok, 2)
	f(formatJSON, `[`+ok+`,null]`, 2, schema.FieldError{Index: 1, Field: "body", Reason: "JSON object"})
	f(formatJSON, `[`+ok+`,{"level":"INFO","message":"m","lvl":1}]`, 2, schema.FieldError{Index: 1, Field: "lvl", Reason: "not a known field"})
	f(formatJSON, `{"level":"INFO","message":"m","ingest_order":3}`, 1, schema.FieldError{Field: "ingest_order", Reason: "set by the server"})
	f(formatJSON, `{"level":"INFO","message":"m","tenant":""}`, 1, schema.FieldError{Field: "tenant", Reason: "set by the server"})
	f(formatNDJSON, ok+"\n"+`{"level":"INFO","Message":"m"}`, 2, schema.FieldError{Index: 1, Field: "Message", Reason: "not a known field"})
	f(formatJSON, `{"level":"info","message":7}`, 1, schema.FieldError{Field: "message", Reason: "string"})
	f(formatJSON, `[{},{"level":"INFO","message":"m","timestamp":1700000000}]`, 2,
		schema.FieldError{Index: 0, Field: "level", Reason: "required"},
		schema.FieldError{Index: 0, Field: "message", Reason: "required"},
		schema.FieldError{Index: 1, Field: "timestamp"})

	_, _, err := decodeLogs(formatJSON, []byte(ok+" x"), ingesttest.Now)
	require.Error(t, err)
}

// FuzzDecodeSignals checks that whatever the decoding of a JSON body
// accepts, the strict item by item decoding accepts too, with the same
// result.
func FuzzDecodeSignals(f *testing.F) {
	for _, seed := range []string{
		`{"level":"INFO","message":"m"}`,
		`[{"level":"INFO","message":"m","task_id":"a"},{"level":"ERROR","message":"n","attributes":{"k":"v"}}]`,
		`{"name":"x","value":1,"labels":{"a":"b"}}`,
		`[{"name":"x","kind":"counter","value":1e3}, null]`,
		`{"level":"INFO","message":"m"} {}`,
		`[{"Level":"INFO","MESSAGE":"m"}]`,
		`{"level":"INFO","meſſage":"m"}`,
		`[{"name":"x","value":0},{"name":"y"},{"name":"z","value":null,"tenant":null}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		logs, problems, err := decodeLogs(formatJSON, body, ingesttest.Now)
		if err == nil && len(problems) == 0 {
			raw, err := splitItems(formatJSON, body)
			require.NoError(t, err)
			for i, r := range raw {
				l, errs := decodeLog(i, r)
				require.Empty(t, errs)
				require.Equal(t, logs[i], l)
			}
		}
		samples, problems, err := decodeMetrics(formatJSON, body, ingesttest.Now)
		if err == nil && len(problems) == 0 {
			raw, err := splitItems(formatJSON, body)
			require.NoError(t, err)
			for i, r := range raw {
				m, errs := decodeMetric(i, r)
				require.Empty(t, errs)
				require.Equal(t, samples[i], m)
			}
		}
	})
}
