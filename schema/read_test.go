package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fastPathSeeds are bus records as the encoders write them, and the same
// records bent in the ways other writers and the fuzzer bend them.
func fastPathSeeds(tb testing.TB, records ...[]byte) [][]byte {
	tb.Helper()
	seeds := records
	for _, rec := range records {
		s := string(rec)
		for _, bent := range []string{
			" " + s + "\n",
			strings.Replace(s, `{"`, "{\n\t\"", 1),
			strings.Replace(s, `":`, `" : `, 1),
			strings.Replace(s, `"event_id"`, `"Event_ID"`, 1),
			strings.Replace(s, `"tenant":`, `"unknown":1,"tenant":`, 1),
			strings.Replace(s, `{"tenant":"default"`, `{"tenant":"default","tenant":"other"`, 1),
			strings.Replace(s, `"default"`, `null`, 1),
			strings.Replace(s, `"default"`, `"d\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t\u2028"`, 1),
			strings.Replace(s, `"default"`, `"\ud800"`, 1),
			strings.Replace(s, `"default"`, "\"\xff\"", 1),
			strings.Replace(s, `1700000000000`, `1.7e12`, 1),
			strings.Replace(s, `1700000000000`, `-0`, 1),
			strings.Replace(s, `1700000000000`, `99999999999999999999`, 1),
			strings.Replace(s, `":"loadgen"`, `":null`, 1),
			strings.Replace(s, `}}`, `},"attributes":{}}`, 1),
		} {
			seeds = append(seeds, []byte(bent))
		}
	}
	return seeds
}

// fuzzFastPath checks that whatever read accepts, json.Unmarshal accepts
// too and decodes to the same value: the fast path may decline, never
// differ.
func fuzzFastPath[T any](f *testing.F, read func([]byte) (T, bool), seeds [][]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := read(b)
		if !ok {
			return
		}
		var want T
		require.NoError(t, json.Unmarshal(b, &want), "the fast path took what encoding/json refuses")
		require.Equal(t, want, got)
	})
}

func FuzzReadProgress(f *testing.F) {
	pct, eta := 0.5e-7, int64(-3)
	full := loadgenProgress()
	full.ETA, full.Error = &eta, "boom <&>"
	odd := Progress{Tenant: "t", TaskID: "q\"\\/\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029é\xff\xc3", Progress: &pct, Attributes: map[string]string{}}
	var records [][]byte
	for _, p := range []Progress{loadgenProgress(), full, odd, {}} {
		rec, err := EncodeProgress(&p)
		require.NoError(f, err)
		records = append(records, rec)
	}
	fuzzFastPath(f, readProgress, fastPathSeeds(f, records...))
}

func FuzzReadLog(f *testing.F) {
	rec, err := EncodeLog(sampleLog())
	require.NoError(f, err)
	fuzzFastPath(f, readLog, fastPathSeeds(f, rec))
}

func FuzzReadMetric(f *testing.F) {
	rec, err := EncodeMetric(sampleMetric())
	require.NoError(f, err)
	fuzzFastPath(f, readMetric, fastPathSeeds(f, rec, []byte(`{"value":-1.5E+300,"kind":null,"labels":null}`)))
}

// TestBusRecordsTakeTheFastPath pins that what the encoders write never
// needs encoding/json to be read back, and what the fast path leaves to
// it.
func TestBusRecordsTakeTheFastPath(t *testing.T) {
	f := func(rec string, wantFast bool) {
		t.Helper()
		_, ok := readProgress([]byte(rec))
		require.Equal(t, wantFast, ok, rec)
	}
	p := loadgenProgress()
	rec, err := EncodeProgress(&p)
	require.NoError(t, err)
	f(string(rec), true)
	f(`{"tenant":"t","ingest_order":7,"task_id":"\u003c\ufffd\u2028","status":"running","progress":null,"eta":null,"attributes":{}}`, true)
	f(`{}`, true)
	f(` {"tenant":"t"}`, false)
	f(`{"tenant":"t"}`+"\n", false)
	f(`{"Tenant":"t"}`, false)
	f(`{"tenant":"t","tenant":"u"}`, false)
	f(`{"tenant":"t","client":"x"}`, false)
	f(`{"seq":1.0}`, false)
	f(`{"task_id":"\ud800"}`, false)
	f(`[{"tenant":"t"}]`, false)

	rec, err = EncodeLog(sampleLog())
	require.NoError(t, err)
	_, ok := readLog(rec)
	require.True(t, ok, string(rec))
	rec, err = EncodeMetric(sampleMetric())
	require.NoError(t, err)
	_, ok = readMetric(rec)
	require.True(t, ok, string(rec))
}

func TestDecodeProgress(t *testing.T) {
	f := func(rec string, want Progress, wantErr string) {
		t.Helper()
		got, err := DecodeProgress([]byte(rec))
		if wantErr != "" {
			require.ErrorContains(t, err, wantErr, rec)
			return
		}
		require.NoError(t, err, rec)
		require.Equal(t, want, got, rec)
	}
	ok := Progress{Tenant: "t", EventID: "e", Timestamp: 1_700_000_000_000, TaskID: "a", Status: StatusRunning}
	f(`{"tenant":"t","event_id":"e","timestamp":1700000000000,"task_id":"a","status":"running"}`, ok, "")
	// Written by hand or by another tool: encoding/json reads these.
	f(` {"TENANT":"t","event_id":"e","timestamp":1700000000000,"task_id":"a","status":"running","extra":[1]} `, ok, "")
	f(`{"tenant":"t","event_id":"e","timestamp":1700000000000,"task_id":"a","status":"running","task_id":"a"}`, ok, "")
	f(`{"tenant":"t","event_id":"e","timestamp":1700000000000,"task_id":"a"}`, ok, "missing")
	f(`{"event_id":"e","timestamp":1700000000000,"task_id":"a","status":"running"}`, ok, "missing")
	f(`{"tenant":"t","event_id":"e","timestamp":"now","task_id":"a","status":"running"}`, ok, "cannot unmarshal")
	f(`{"tenant":`, ok, "unexpected end")
}
