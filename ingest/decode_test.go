package ingest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

func TestBodyFormat(t *testing.T) {
	f := func(contentType, want string) {
		t.Helper()
		got, err := bodyFormat(contentType)
		if want == "" {
			require.ErrorIs(t, err, errUnsupportedMedia, contentType)
			return
		}
		require.NoError(t, err, contentType)
		require.Equal(t, want, got, contentType)
	}
	f("application/json", formatJSON)
	f("application/json; charset=utf-8", formatJSON)
	f("application/x-ndjson", formatNDJSON)
	f("application/jsonl", formatNDJSON)
	f("text/plain", "")
	f("", "")
	f("application/xml", "")
}

func TestSplitItems(t *testing.T) {
	f := func(format, body string, wantItems int, wantErrIndex int) {
		t.Helper()
		items, err := splitItems(format, []byte(body))
		if wantErrIndex >= 0 {
			var fe schema.FieldError
			require.ErrorAs(t, err, &fe, body)
			require.Equal(t, wantErrIndex, fe.Index, body)
			require.Equal(t, "body", fe.Field)
			return
		}
		require.NoError(t, err, body)
		require.Len(t, items, wantItems, body)
	}
	f(formatJSON, `{"task_id":"a"}`, 1, -1)
	f(formatJSON, `  [{"task_id":"a"}, {"task_id":"b"}]  `, 2, -1)
	f(formatJSON, `[{"task_id":"a"}, {"task_id":]`, 0, 1)
	f(formatJSON, `[{"task_id":"a"}`, 0, 1)
	f(formatJSON, `[{"task_id":"a"}] x`, 0, 1)
	f(formatJSON, `[]`, 0, 0)
	f(formatJSON, ``, 0, 0)
	f(formatJSON, `{"task_id":`, 0, 0)
	f(formatNDJSON, "{\"a\":1}\n\n{\"a\":2}\r\n", 2, -1)
	f(formatNDJSON, "{\"a\":1}\n{\"a\":", 0, 1)
	f(formatNDJSON, "\n \n", 0, 0)
}

func TestDecodeProgress(t *testing.T) {
	f := func(item, wantField, wantReason string) {
		t.Helper()
		_, errs := decodeProgress(3, []byte(item))
		if wantField == "" {
			require.Empty(t, errs, item)
			return
		}
		require.Len(t, errs, 1, item)
		require.Equal(t, 3, errs[0].Index)
		require.Equal(t, wantField, errs[0].Field, item)
		require.Contains(t, errs[0].Reason, wantReason, item)
	}
	f(`{"task_id":"a","status":"running","progress":5}`, "", "")
	f(`{"task_id":"a","progres":5}`, "progres", "not a known field")
	f(`{"task_id":7}`, "task_id", "string")
	f(`{"progress":"5"}`, "progress", "number")
	f(`{"attributes":{"k":1}}`, "attributes", "string")
	f(`{"tenant":"other"}`, "tenant", "set by the server")
	f(`{"ingest_order":9}`, "ingest_order", "set by the server")
	f(`{"task_id":"a","tenant":""}`, "tenant", "set by the server")
	f(`{"task_id":"a","ingest_order":null}`, "ingest_order", "set by the server")
	f(`{"task_id":"a","ſtatus":"running"}`, "ſtatus", "not a known field")
	f(`{"task_id":"a","Status":"running"}`, "Status", "not a known field")
	f(`{"TASK_ID":"a","status":"running"}`, "TASK_ID", "not a known field")
	f(`{"task_id":"a","attributes":{"k":"v"},"Attributes":{}}`, "Attributes", "not a known field")
	f(`[1]`, "body", "object")
	f(`"x"`, "body", "object")
}

func TestDecodeAllReportsEveryBadItem(t *testing.T) {
	s := &Service{}
	items := [][]byte{
		[]byte(`{"task_id":"ok","status":"running","progress":10}`),
		[]byte(`{"task_id":"","status":"running"}`),
		[]byte(`{"task_id":"b","status":"exploded","progress":101}`),
		// An unknown field hides none of the item's other mistakes.
		[]byte(`{"task_id":"c","stauts":"running","progress":101,"tenant":"x"}`),
	}
	_, problems := s.decodeAll(items, 1_700_000_000_000)
	got := map[string]bool{}
	for _, p := range problems {
		got[p.Field+"@"+string(rune('0'+p.Index))] = true
	}
	require.Equal(t, map[string]bool{"task_id@1": true, "status@2": true, "progress@2": true,
		"stauts@3": true, "tenant@3": true, "status@3": true, "progress@3": true}, got)
	require.Equal(t, 3, countItems(problems))
}

func FuzzDecode(f *testing.F) {
	f.Add("application/json", `{"task_id":"a","status":"running","progress":50}`)
	f.Add("application/json", `[{"task_id":"a","status":"completed"},{"task_id":"b","status":"failed","error":"x"}]`)
	f.Add("application/x-ndjson", "{\"task_id\":\"a\",\"status\":\"paused\"}\n{\"task_id\":\"b\",\"status\":\"running\",\"attributes\":{\"k\":\"v\"}}")
	f.Add("application/json", `{"task_id":"a","status":"running","progress":1e400}`)
	s := &Service{}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		format, err := bodyFormat(contentType)
		if err != nil {
			return
		}
		items, err := splitItems(format, []byte(body))
		if err != nil {
			var fe schema.FieldError
			require.ErrorAs(t, err, &fe)
			return
		}
		events, problems := s.decodeAll(items, 1_700_000_000_000)
		require.Len(t, events, len(items))
		for _, p := range problems {
			require.True(t, p.Index >= 0 && p.Index < len(items), "problem index %d out of range", p.Index)
			require.NotEmpty(t, p.Field)
		}
		if len(problems) == 0 {
			// Whatever is accepted must survive the trip over the bus.
			for i := range events {
				events[i].Tenant, events[i].EventID, events[i].Timestamp = "t", "e", 1_700_000_000_000
				b, err := schema.EncodeProgress(&events[i])
				require.NoError(t, err)
				back, err := schema.DecodeProgress(b)
				require.NoError(t, err)
				require.Equal(t, events[i].TaskID, back.TaskID)
				require.True(t, strings.EqualFold(string(events[i].Status), string(back.Status)))
			}
		}
	})
}

// FuzzDecodeFast checks that whatever decodeFast accepts, the encoding/json
// path accepts too and decodes to the same events.
func FuzzDecodeFast(f *testing.F) {
	f.Add(false, string(benchBody(3, false)))
	f.Add(true, string(benchBody(3, true)))
	f.Add(false, `{"task_id":"a\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t","status":null,"progress":-0.5e-3,"eta":null,"attributes":{"k":"v","k":"w","":"\u0000"}}`)
	f.Add(false, ` [ {"seq":-0, "timestamp":1700000000000, "steps_done":9223372036854775807, "eta":0} , {} ] `)
	f.Add(true, "\r\n {\"task_id\":\"é\"} \r\n\n{\"progress\":1E+2}")
	f.Add(false, `[{"Task_ID":"a"},{"task_id":"a","task_id":"b"},{"progress":1e400},{"task_id":"\ud800"},{"tenant":""}]`)
	f.Add(false, `{"ſtatus":"running","task_id":"a"}`)
	f.Fuzz(func(t *testing.T, ndjson bool, body string) {
		format := formatJSON
		if ndjson {
			format = formatNDJSON
		}
		events, ok := decodeFast(format, []byte(body))
		if !ok {
			return
		}
		items, err := splitItems(format, []byte(body))
		require.NoError(t, err)
		require.Len(t, events, len(items))
		for i, item := range items {
			want, errs := decodeProgress(i, item)
			require.Empty(t, errs)
			require.Equal(t, want, events[i])
		}
	})
}

// TestDecodeFastDeclines pins which bodies the fast path takes, so that a
// change cannot quietly send every request down the slow one.
func TestDecodeFastDeclines(t *testing.T) {
	f := func(format, body string, wantOK bool) {
		t.Helper()
		_, ok := decodeFast(format, []byte(body))
		require.Equal(t, wantOK, ok, body)
	}
	f(formatJSON, string(benchBody(500, false)), true)
	f(formatNDJSON, string(benchBody(500, true)), true)
	f(formatJSON, `{"task_id":"a\u00e9\ud83d\ude00\"\\\/\b\f\n\r\t","status":null,"progress":-0.5e-3,"eta":7,"attributes":{"k":"v","k":"w"}}`, true)
	f(formatJSON, `[{}]`, true)
	f(formatNDJSON, "\n{\"task_id\":\"a\"}\r\n\n", true)
	f(formatJSON, `[]`, false)
	f(formatJSON, `{"Task_ID":"a"}`, false)
	f(formatJSON, `{"task_id":"a","task_id":"b"}`, false)
	f(formatJSON, `{"tenant":""}`, false)
	f(formatJSON, `{"ingest_order":0}`, false)
	f(formatJSON, `{"progress":1e400}`, false)
	f(formatJSON, `{"seq":1.0}`, false)
	f(formatJSON, `{"task_id":"\ud800"}`, false)
	f(formatJSON, "{\"task_id\":\"\xff\"}", false)
	f(formatJSON, `{"attributes":{"k":null}}`, false)
	f(formatJSON, `{"task_id":"a"} x`, false)
	f(formatNDJSON, "{\"task_id\":\n\"a\"}", false)
	f(formatNDJSON, "\n\n", false)
}

// TestReadFastDeclinesSignals pins which log and metric bodies the fast
// path leaves to the strict decoder.
func TestReadFastDeclinesSignals(t *testing.T) {
	logs, metrics := signalBodies(500)
	f := func(body string, read func(format string, body []byte) bool, wantOK bool) {
		t.Helper()
		require.Equal(t, wantOK, read(formatJSON, []byte(body)), body)
	}
	log := func(format string, body []byte) bool {
		_, ok := readFast(format, body, (*schema.Reader).Log)
		return ok
	}
	metric := func(format string, body []byte) bool {
		_, ok := readFast(format, body, (*schema.Reader).Metric)
		return ok
	}
	f(string(logs), log, true)
	f(string(metrics), metric, true)
	f(`{"level":"INFO","Message":"m"}`, log, false)
	f(`{"level":"INFO","message":"m","tenant":""}`, log, false)
	f(`{"name":"m","value":0}`, metric, true)
	f(`{"name":"m"}`, metric, false)
	f(`{"name":"m","value":null}`, metric, false)
	f(`{"name":"m","value":1e400}`, metric, false)
	f(`{"name":"m","Value":1}`, metric, false)
}
